"""A study folder, read once per command: its results files, `config.json`, `interrupted.jsonl` and
`diagnostics.jsonl`, handed down to training and to the reports.

`StudyFolder` reads each file the first time something asks for it and keeps what it read; what this process
appends or rewrites goes through it too, so its records stay current without reading the file again. A file
another process changed meanwhile (a shard beside this one) is read again when next asked for, so a report
written at the end holds what every results file has by then.

Example:

    folder = StudyFolder("runs/20news-jax")
    finished = finished_runs(folder.records)
"""

import dataclasses
import json
import logging
import os
from pathlib import Path

from padzero_study.files import check_own_file, read_own_file, write_own_file
from padzero_study.results import jsonlines, schema
from padzero_study.results.jsonlines import ResultsError
from padzero_study.results.names import (
    CONFIG_FILE,
    DIAGNOSTICS_FILE,
    INTERRUPTED_FILE,
    RESULTS_FILE,
    SHARD_RESULTS_GLOB,
)
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)


def results_files(run_dir):
    """The results files in `run_dir` that exist: `results.jsonl`, then the shards' files, sorted.

    A symbolic link (or a fifo, a device) is listed too, so that the reader
    refuses it by name rather than the study silently leaving it out or
    following it; a folder of such a name is not a results file.
    """
    run_dir = Path(run_dir)
    candidates = [run_dir / RESULTS_FILE, *sorted(run_dir.glob(SHARD_RESULTS_GLOB))]
    return [path for path in candidates if path.is_symlink() or (os.path.lexists(path) and not path.is_dir())]


def finished_runs(records):
    """The (variant, seed) pairs of `records` that have a `run_end` record."""
    return {(record["variant"], record["seed"]) for record in records if record["record"] == "run_end"}


def merged_results(records_by_file, *, check_duplicates=True):
    """The records of several results files in file order, refusing a (record, variant, seed, backend, epoch) seen
    twice (two shards that ran the same seed) when `check_duplicates`.

    Args:
        records_by_file: [[(where, record)], ...], one list per file.
    """
    records, first_seen, duplicates = [], {}, []
    for file_records in records_by_file:
        for where, record in file_records:
            key = (record["record"], record["variant"], record["seed"], record["backend"], record.get("epoch"))
            if key in first_seen:
                duplicates.append(f"{key} in {first_seen[key]} and {where}")
            first_seen.setdefault(key, where)
            records.append(record)
    if duplicates and check_duplicates:
        raise ResultsError(
            f"{count_of(len(duplicates), 'duplicated (record, variant, seed, backend, epoch) record')}: "
            f"{'; '.join(duplicates[:3])}. Two shards probably ran the same seed: keep one copy of "
            "each run."
        )
    return records


def checked_records(path, check, *, follow_links=False):
    """([(where, record)], cut): `jsonlines.read_records(path)`, each record passed through `check(record, where)`."""
    records, cut = jsonlines.read_records(path, follow_links=follow_links)
    for where, record in records:
        check(record, where)
    return records, cut


def load_results(paths, *, check_duplicates=True, follow_links=False):
    """Reads, checks and merges results files (outside a `StudyFolder`: scripts comparing studies).

    Args:
        paths: a path, or a list of paths, to results files written by the study runner.
        check_duplicates: refuse a record seen twice (`merged_results`).
        follow_links: accept files that are links to regular files (files the user named).

    Raises:
        ResultsError: naming file and line, for a line `read_records` refuses, an unknown record kind, a missing
            field or one of the wrong type, and for duplicated records.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return merged_results(
        [checked_records(path, schema.check_result, follow_links=follow_links)[0] for path in paths],
        check_duplicates=check_duplicates,
    )


def load_diagnostics(path):
    """The checked records of a `diagnostics.jsonl` (outside a `StudyFolder`: scripts)."""
    return [record for _, record in checked_records(path, schema.check_diagnostics)[0]]


def _stamp(path, follow_links=False):
    """(size, modification time) of `path` (of the file a link leads to, with `follow_links`), or None when there is
    none: whether a file changed since it was read. Taken before reading, so a change during the read shows."""
    try:
        status = os.stat(path) if follow_links else os.lstat(path)
    except FileNotFoundError:
        return None
    return status.st_size, status.st_mtime_ns


@dataclasses.dataclass
class _FileRead:
    records: list  # [(where, record)]
    cut: bool  # whether its last line was cut short when read
    stamp: tuple | None


class StudyFolder:
    """A study folder's records, each file read once (see the module's docstring).

    Args:
        path: the folder.
        results_paths: the results files to merge, for `padzero report --results` (they may be links to regular
            files, as files the user named); default the folder's own (`results_files`), never followed links.
    """

    def __init__(self, path, results_paths=None):
        self.path = Path(path)
        self.named_results = [Path(p) for p in results_paths] if results_paths else None
        self._reads = {}

    # ---------------------------------------------------------------- reading

    @property
    def results_paths(self):
        """The results files this folder's records come from: the ones named, else the folder's own."""
        return self.named_results if self.named_results is not None else results_files(self.path)

    def _read(self, path, check):
        """The (where, record) pairs of `path` (read now only if it was never read or another process changed it)."""
        path, follow_links = Path(path), self.named_results is not None
        known, stamp = self._reads.get(path), _stamp(path, follow_links)
        if known is None or known.stamp != stamp:
            records, cut = checked_records(path, check, follow_links=follow_links)
            known = self._reads[path] = _FileRead(records, cut, stamp)
        return known.records

    @property
    def records(self):
        """Every record of the results files, merged in file order (duplicates refused)."""
        return merged_results([self._read(path, schema.check_result) for path in self.results_paths])

    def records_to_report(self):
        """`records`, where a folder with no results file at all is an error naming the missing `results.jsonl`."""
        paths = self.results_paths or [self.path / RESULTS_FILE]
        records = merged_results([self._read(path, schema.check_result) for path in paths])
        if not records:
            raise ResultsError(
                f"No results records in {', '.join(map(str, paths))}: nothing to report, so the report in "
                f"{self.path} is left as it was. Give the results files of a study that has run."
            )
        return records

    def has(self, name):
        """Whether the folder's file `name` exists (a link or a special file there is refused by name)."""
        return check_own_file(self.path / name, must_exist=False)

    @property
    def config(self):
        """The folder's `config.json` as a dict (`schema.read_config`), or None where there is none."""
        path = self.path / CONFIG_FILE
        if not os.path.lexists(path):
            return None
        known, stamp = self._reads.get(path), _stamp(path)
        if known is None or known.stamp != stamp:
            known = self._reads[path] = _FileRead(schema.parse_config(path, read_own_file(path)), False, stamp)
        return known.records

    @property
    def diagnostics(self):
        """The checked records of `diagnostics.jsonl`; empty where there is none."""
        if not self.has(DIAGNOSTICS_FILE):
            return []
        return [record for _, record in self._read(self.path / DIAGNOSTICS_FILE, schema.check_diagnostics)]

    def set_aside_attempts(self):
        """The attempts `padzero reproduce` moved to `interrupted.jsonl` before redoing them.

        Returns:
            {(variant, backend, seed): [epochs reached by each attempt]}, in file order; empty when there is no
            such file. An attempt ends where the epoch count starts again.
        """
        attempts = {}
        if not self.has(INTERRUPTED_FILE):
            return attempts
        for _, record in self._read(self.path / INTERRUPTED_FILE, schema.check_result):
            if record["record"] != "epoch":
                continue
            runs = attempts.setdefault((record["variant"], record["backend"], record["seed"]), [])
            if runs and record["epoch"] > runs[-1]:
                runs[-1] = record["epoch"]
            else:
                runs.append(record["epoch"])
        return attempts

    def missing_diagnostics(self):
        """The finished (variant, seed) runs that have no line in `diagnostics.jsonl`."""
        recorded = {(record["variant"], record["seed"]) for record in self.diagnostics}
        return sorted(finished_runs(self.records) - recorded)

    def finished_diagnostics(self):
        """The diagnostics lines of runs that finished (a run_end line in the results), and the (variant, seed)
        pairs left out because they are still running or were interrupted."""
        records = self.diagnostics
        finished = finished_runs(self.records if self.results_paths else [])
        left_out = sorted({(r["variant"], r["seed"]) for r in records} - finished)
        return [r for r in records if (r["variant"], r["seed"]) in finished], left_out

    # ---------------------------------------------------------------- writing: through the folder, so it stays current

    def append(self, name, record):
        """Appends `record` to the folder's JSON-lines file `name` (`jsonlines.append_record`)."""
        path = self.path / name
        known, before = self._reads.get(path), _stamp(path)
        current = known is not None and known.stamp == before and not known.cut
        written = jsonlines.append_record(path, record)
        if current or before is None:
            records = known.records if current else []
            # As a reader would see it (tuples become lists); the size it must have if no one else wrote meanwhile.
            records.append((f"{path} line {len(records) + 1}", json.loads(json.dumps(record))))
            after = _stamp(path)
            expected = (before[0] if before else 0) + written
            self._reads[path] = _FileRead(records, False, after if after and after[0] == expected else None)

    def rewrite(self, name, records):
        """Replaces the folder's JSON-lines file `name` whole by `records`."""
        path = self.path / name
        jsonlines.rewrite_records(path, records)
        self._reads[path] = _FileRead(
            [(f"{path} line {number}", record) for number, record in enumerate(records, start=1)], False, _stamp(path)
        )

    def write_config(self, content, text):
        """Replaces `config.json` whole by `text`, whose parsed form is `content`."""
        path = self.path / CONFIG_FILE
        write_own_file(path, text)
        self._reads[path] = _FileRead(content, False, _stamp(path))

    def forget(self):
        """Drops what was read: the folder's files were moved aside."""
        self._reads.clear()

    def set_aside_interrupted_runs(self, results_name):
        """Moves the lines of unfinished runs from the results file `results_name` to `interrupted.jsonl`.

        A run killed half-way is redone from its first epoch, so its old lines
        would duplicate the new ones; they are kept, not deleted. Only that
        file is touched: other shards' files may be in use. Call it holding
        `study_lock` for that file.

        Returns:
            The number of lines moved.
        """
        path = self.path / results_name
        if not self.has(results_name):
            return 0
        records = [record for _, record in self._read(path, schema.check_result)]
        finished = finished_runs(records)
        kept = [r for r in records if (r["variant"], r["seed"]) in finished]
        if len(kept) == len(records) and not self._reads[path].cut:
            return 0
        for record in records:
            if (record["variant"], record["seed"]) not in finished:
                self.append(INTERRUPTED_FILE, record)
        self.rewrite(results_name, kept)
        moved = len(records) - len(kept)
        if moved:
            logger.info("set aside %s of interrupted runs in %s", count_of(moved, "line"), INTERRUPTED_FILE)
        return moved

    def drop_unfinished_diagnostics(self, finished):
        """Keeps only the diagnostics lines of `finished` (variant, seed) runs: an interrupted run records them anew."""
        if not self.has(DIAGNOSTICS_FILE):
            return
        records = self.diagnostics
        kept = [record for record in records if (record["variant"], record["seed"]) in finished]
        if len(kept) != len(records) or self._reads[self.path / DIAGNOSTICS_FILE].cut:
            self.rewrite(DIAGNOSTICS_FILE, kept)


def as_folder(run_dir, results_paths=None):
    """`run_dir` if it is a `StudyFolder` already (read once, handed down), else `StudyFolder(run_dir, results_paths)`,
    which decides whether the files named or the folder's own are read."""
    if isinstance(run_dir, StudyFolder):
        if results_paths:
            raise ValueError("results_paths are a new folder's to name; a StudyFolder was read with its own")
        return run_dir
    return StudyFolder(run_dir, results_paths)
