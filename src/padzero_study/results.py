"""The study's results files: their names, the one writer, the one reader, the finished runs and the lock.

Every JSON-lines file of a study folder (`results.jsonl`, the shards' files,
`interrupted.jsonl`, `diagnostics.jsonl`) is written by `append_record` and
read by `read_lines`, so they share one rule for a last line cut short, and
every record the report or the runner uses passes `load_results` (or
`load_diagnostics`), which checks the type of each field it reads. Importing
this module loads neither Keras nor NumPy: `padzero report` needs neither.

Example:

    for record in load_results(results_files("runs/20news-jax")):
        ...
"""

import contextlib
import json
import logging
import math
import os
from pathlib import Path

from padzero_study.counts import count_of
from padzero_study.files import FileError, check_own_file, describe_os_error, read_own_file, write_own_file

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
SHARD_RESULTS_FILE = "results.shard-{index}-of-{count}.jsonl"
SHARD_RESULTS_GLOB = "results.shard-*-of-*.jsonl"
INTERRUPTED_FILE = "interrupted.jsonl"
DIAGNOSTICS_FILE = "diagnostics.jsonl"
CONFIG_FILE = "config.json"
# What `padzero report` writes: moved aside with the results they were built from.
REPORT_FILES = ("summary.csv", "report.md", "learning_curves.png", "diagnostics.png", "diagnostics.md",
                "encoders.png")

# Seeds and epochs are small counters; anything beyond these is not a value the runner writes.
# The runner's settings check uses the same limits, so it never writes a record this reader refuses.
LARGEST_SEED = 2**32 - 1
LARGEST_EPOCH = 10**6
LARGEST_CLASS_COUNT = 10**6
_LARGEST_SEED = LARGEST_SEED
_LARGEST_EPOCH = LARGEST_EPOCH
_BOM = b"\xef\xbb\xbf"


class ResultsError(FileError):
    """A results, diagnostics or config file cannot be used as it is (one line naming the file, the line and a fix)."""


# ---------------------------------------------------------------- writing


def append_record(path, record):
    """Appends `record` as one JSON line with a single write() and an fsync.

    One write per line means a kill can only cut the file's last line short,
    which `read_lines` then skips; the fsync keeps a finished run's lines
    through a power cut.

    Args:
        path: the JSON-lines file, created if absent.
        record: a dict of JSON values (NaN allowed: a diverged run's loss).
    """
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    check_own_file(path, must_exist=False)
    try:
        # O_NOFOLLOW: a link planted at the name must not make this write elsewhere.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as error:
        raise ResultsError(describe_os_error(path, error, writing=True)) from None
    try:
        remaining = memoryview(line)
        while remaining:  # write() may take less than asked (a full disk, a signal)
            remaining = remaining[os.write(descriptor, remaining):]
        os.fsync(descriptor)
    except OSError as error:
        raise ResultsError(describe_os_error(path, error, writing=True)) from None
    finally:
        os.close(descriptor)


def rewrite_records(path, records):
    """Replaces `path` whole by `records`, one JSON line each (a temporary file, then an atomic rename)."""
    write_own_file(path, "".join(json.dumps(record, sort_keys=True) + "\n" for record in records))


# ---------------------------------------------------------------- reading


def _complete_lines(path, follow_links=False):
    """([(line number, bytes)], the cut last line): the file split into complete lines, and the bytes after
    its last newline (empty for a complete file).

    A UTF-8 byte order mark at the start (an editor's) is dropped.
    """
    content = read_own_file(path, follow_links=follow_links)
    if content.startswith(_BOM):
        content = content[len(_BOM):]
    pieces = content.split(b"\n")
    # The piece after the last newline is empty for a complete file; anything else is a line cut short.
    return [(number, piece) for number, piece in enumerate(pieces[:-1], start=1) if piece.strip()], pieces[-1]


# (file, complete lines, hash of the cut line) of each cut line already warned of in this process.
_CUT_LINES_SAID = set()


class _DuplicateKey(ValueError):
    """A JSON object with the same key twice."""


def _refuse_duplicate_keys(pairs):
    record = {}
    for key, value in pairs:
        if key in record:
            raise _DuplicateKey(key)
        record[key] = value
    return record


def _parse_json(text):
    """`json.loads` refusing an object with the same key twice (which `json` would silently resolve to the last)."""
    return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)


def read_lines(path, *, follow_links=False):
    """All complete JSON objects of a JSON-lines file, in file order.

    The one rule for a cut last line: a last line without its newline is a
    write cut short (the process was stopped or the disk was full, or a write
    still under way in another process); it is skipped, and that is logged.
    Any other line that is not one JSON object is an error.

    Args:
        path: a JSON-lines file written by `append_record`.

    Returns:
        A list of dicts.

    Raises:
        ResultsError: naming the file and line, for a line that is not UTF-8,
            not JSON or not an object, or has a key twice; naming the file when
            it does not exist, is a link (unless `follow_links`) or is not a regular file.
    """
    return [record for _, record in _read_with_where(path, follow_links)]


def _read_with_where(path, follow_links=False):
    """`read_lines`, each record paired with its 'file line N' for messages."""
    lines, cut = _complete_lines(path, follow_links)
    records = []
    for number, raw in lines:
        where = f"{path} line {number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ResultsError(f"{where} is not UTF-8 text (byte {error.start + 1}); fix or delete that line.") from None
        try:
            record = _parse_json(text)  # NaN and Infinity parse: a diverged run writes them
        except _DuplicateKey as error:
            raise ResultsError(f"{where} has the key {json.dumps(error.args[0])} twice; keep one of them.") from None
        except (ValueError, RecursionError) as error:  # ValueError: bad JSON, or an integer of too many digits
            detail = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply, or a number too long"
            raise ResultsError(f"{where} is not valid JSON ({detail}); received {text[:60]!r}. "
                               "Fix or delete that line.") from None
        if not isinstance(record, dict):
            kind = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(type(record), "a number")
            raise ResultsError(f"{where} is not a JSON object but {kind} ({text[:60]!r}); fix or delete that line.")
        records.append((where, record))
    # A study reads a file several times (checking the folder, under the lock, setting runs aside, reporting):
    # one cut line is said once, and said again only when the file has changed.
    said = (os.path.abspath(path), len(lines), hash(cut))
    if cut and said not in _CUT_LINES_SAID:
        _CUT_LINES_SAID.add(said)
        logger.warning("Skipped the incomplete last line of %s: a write cut short (the process was stopped or "
                       "the disk was full) or still under way.", path)
    return records


def last_line_is_cut(path):
    """Whether `path` ends in a line with no newline (a write cut short)."""
    return bool(_complete_lines(path)[1])


# ---------------------------------------------------------------- field checks

_DESCRIPTIONS = {}  # check -> what it accepts, for messages


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name(value):
    return isinstance(value, str) and 0 < len(value) <= 200


def _seed(value):
    return _is_int(value) and 0 <= value <= _LARGEST_SEED


def _epoch(value):
    return _is_int(value) and 1 <= value <= _LARGEST_EPOCH


def _epoch_or_zero(value):
    return _is_int(value) and 0 <= value <= _LARGEST_EPOCH


def _accuracy(value):
    # NaN is what a diverged run's metrics hold: kept, and the report says so.
    return _is_real(value) and (math.isnan(value) or 0 <= value <= 1)


def _metric(value):
    return _is_real(value) and not math.isinf(value)


def _seconds(value):
    return _is_real(value) and math.isfinite(value) and value >= 0


def _flag(value):
    return isinstance(value, bool)


def _optional(check):
    def optional(value):
        return value is None or check(value)

    _DESCRIPTIONS[optional] = "null or " + _DESCRIPTIONS[check]
    return optional


def _config(value):
    return isinstance(value, dict) and all(
        key not in value or check(value[key]) for key, (check, _) in _CONFIG_FIELDS.items())


_DESCRIPTIONS.update({
    _name: "a non-empty string", _seed: f"an integer in [0, {_LARGEST_SEED:,}]",
    _epoch: f"an integer in [1, {_LARGEST_EPOCH:,}]", _epoch_or_zero: f"an integer in [0, {_LARGEST_EPOCH:,}]",
    _accuracy: "a number in [0, 1] (or NaN for a diverged run)", _metric: "a number (or NaN)",
    _seconds: "a finite number >= 0", _flag: "true or false", _config: "an object of run settings",
})
# The config fields the report reads, with what each must be.
_CONFIG_FIELDS = {
    "dataset": (_name, "a non-empty string"),
    "num_classes": (lambda v: _is_int(v) and 2 <= v <= 10**6, "an integer >= 2"),
    "epochs": (_epoch, _DESCRIPTIONS[_epoch]),
    "patience": (_epoch, _DESCRIPTIONS[_epoch]),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "maxlen": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "vocab_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "vocabulary": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "max_docs": (lambda v: v is None or (_is_int(v) and v >= 1), "null or a positive integer"),
    "train_posts": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "validation_posts": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
}
# Per record kind: field -> (check, required).
_RECORD_FIELDS = {
    "epoch": {"variant": (_name, True), "seed": (_seed, True), "backend": (_name, True), "epoch": (_epoch, True),
              "val_accuracy": (_accuracy, True), "accuracy": (_accuracy, False), "loss": (_metric, False),
              "val_loss": (_metric, False), "epoch_seconds": (_seconds, False), "config": (_config, False),
              "fast_path": (_flag, False)},
    "run_end": {"variant": (_name, True), "seed": (_seed, True), "backend": (_name, True),
                "epochs_run": (_epoch, True), "train_seconds": (_seconds, False),
                "stopped_early": (_flag, False), "config": (_config, False), "fast_path": (_flag, False)},
}


def _describe(check):
    return _DESCRIPTIONS.get(check, "of another type")


def as_json_text(value, width=60):
    """`value` as JSON writes it (true, null, "text"), cut to `width` characters, for messages.

    Example:

    >>> as_json_text(True), as_json_text(None), as_json_text("x" * 50, width=10)
    ('true', 'null', '"xxxxxx...')
    """
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _check_fields(record, where, fields, *, kind):
    """Raises `ResultsError` at `where` unless every field in `fields` of `record` has its type.

    Args:
        record: a dict read from a JSON-lines file.
        where: 'file line N', for the message.
        fields: field -> (check, required).
        kind: what the record is, for the message ('an "epoch" record').
    """
    missing = [key for key, (_, required) in fields.items() if required and key not in record]
    if missing:
        raise ResultsError(f"{where} is missing {', '.join(missing)} ({kind} needs "
                           f"{', '.join(k for k, (_, r) in fields.items() if r)}); fix or delete that line.")
    for key, (check, _) in fields.items():
        if key in record and not check(record[key]):
            if check is _config:
                bad = next(k for k, (c, _) in _CONFIG_FIELDS.items() if k in record[key] and not c(record[key][k])) \
                    if isinstance(record[key], dict) else None
                if bad is not None:
                    raise ResultsError(f"{where}: config.{bad} must be {_CONFIG_FIELDS[bad][1]}; received "
                                       f"{as_json_text(record[key][bad])}. Fix or delete that line.")
            raise ResultsError(f"{where}: {key} must be {_describe(check)}; received {as_json_text(record[key])}. "
                               "Fix or delete that line.")


def _check_result(record, where):
    kind = record.get("record")
    if kind not in _RECORD_FIELDS:
        raise ResultsError(f"{where}: record must be \"epoch\" or \"run_end\"; received {as_json_text(kind)}. "
                           "Fix or delete that line (is this a padzero results file?).")
    _check_fields(record, where, _RECORD_FIELDS[kind], kind=f'an "{kind}" record')


# ---------------------------------------------------------------- results


def results_files(run_dir):
    """The results files in `run_dir` that exist: `results.jsonl`, then the shards' files, sorted.

    A symbolic link (or a fifo, a device) is listed too, so that the reader
    refuses it by name rather than the study silently leaving it out or
    following it; a folder of such a name is not a results file.
    """
    run_dir = Path(run_dir)
    candidates = [run_dir / RESULTS_FILE, *sorted(run_dir.glob(SHARD_RESULTS_GLOB))]
    return [path for path in candidates if path.is_symlink() or (os.path.lexists(path) and not path.is_dir())]


def load_results(paths, *, check_duplicates=True, follow_links=False):
    """Reads, checks and merges results files.

    Args:
        paths: a path, or a list of paths, to results files written by the study runner.
        check_duplicates: refuse a record of the same (record, variant, seed,
            backend, epoch) seen twice (two shards that ran the same seed).
        follow_links: accept files that are links to regular files (files the
            user named); a study folder's own files never are.

    Returns:
        A list of record dicts, in file order.

    Raises:
        ResultsError: naming file and line, for a line `read_lines` refuses,
            an unknown record kind, a missing field or one of the wrong type
            (a seed that is not an integer, an accuracy outside [0, 1], ...),
            and for duplicated records.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    records, first_seen, duplicates = [], {}, []
    for path in paths:
        for where, record in _read_with_where(path, follow_links):
            _check_result(record, where)
            key = (record["record"], record["variant"], record["seed"], record["backend"], record.get("epoch"))
            if key in first_seen:
                duplicates.append(f"{key} in {first_seen[key]} and {where}")
            first_seen.setdefault(key, where)
            records.append(record)
    if duplicates and check_duplicates:
        raise ResultsError(f"{count_of(len(duplicates), 'duplicated (record, variant, seed, backend, epoch) record')}: "
                           f"{'; '.join(duplicates[:3])}. Two shards probably ran the same seed: keep one copy of "
                           "each run.")
    return records


def finished_runs(records):
    """The (variant, seed) pairs of `records` that have a `run_end` record."""
    return {(record["variant"], record["seed"]) for record in records if record["record"] == "run_end"}


def set_aside_interrupted_runs(results_path):
    """Moves the lines of unfinished runs from `results_path` to `interrupted.jsonl` beside it.

    A run killed half-way is redone from its first epoch, so its old lines
    would duplicate the new ones; they are kept, not deleted. Only
    `results_path` is touched: other shards' files may be in use. Call it
    holding `study_lock` for that file.

    Returns:
        The number of lines moved.
    """
    results_path = Path(results_path)
    if not check_own_file(results_path, must_exist=False):
        return 0
    records = load_results(results_path)
    finished = finished_runs(records)
    kept = [r for r in records if (r["variant"], r["seed"]) in finished]
    if len(kept) == len(records) and not last_line_is_cut(results_path):
        return 0
    for record in records:
        if (record["variant"], record["seed"]) not in finished:
            append_record(results_path.parent / INTERRUPTED_FILE, record)
    rewrite_records(results_path, kept)
    moved = len(records) - len(kept)
    if moved:
        logger.info("set aside %s of interrupted runs in %s", count_of(moved, "line"), INTERRUPTED_FILE)
    return moved


def set_aside_attempts(run_dir):
    """The attempts `padzero reproduce` moved to `interrupted.jsonl` before redoing them.

    Returns:
        {(variant, backend, seed): [epochs reached by each attempt]}, in file
        order; empty when there is no such file. An attempt ends where the
        epoch count starts again.

    Raises:
        ResultsError: for a line of that file that is not a results record.
    """
    path = Path(run_dir) / INTERRUPTED_FILE
    attempts = {}
    for record in load_results(path, check_duplicates=False) if check_own_file(path, must_exist=False) else []:
        if record["record"] != "epoch":
            continue
        runs = attempts.setdefault((record["variant"], record["backend"], record["seed"]), [])
        if runs and record["epoch"] > runs[-1]:
            runs[-1] = record["epoch"]
        else:
            runs.append(record["epoch"])
    return attempts


# ---------------------------------------------------------------- diagnostics


def _share(value):
    return _is_real(value) and (math.isnan(value) or 0 <= value <= 1)


def _measure(value):
    return _is_real(value) and not math.isinf(value)


def _neighbours(value):
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and _measure(pair[1]) for pair in value)


def _kernel_norms(value):
    return isinstance(value, dict) and all(
        value.get(key) is None or _measure(value[key]) for key in ("padding_positions", "real_positions"))


_DESCRIPTIONS.update({
    _share: "a number in [0, 1] (or NaN)", _measure: "a number (or NaN)",
    _neighbours: 'a list of ["word", cosine] pairs', _kernel_norms: "an object of two norms",
})
_DIAGNOSTICS_FIELDS = {
    "variant": (_name, True), "seed": (_seed, True), "epoch": (_epoch_or_zero, True),
    "step": (_optional(_epoch_or_zero), True),
    "padding_gradient_share": (_optional(_share), True), "table_gradient_norm": (_optional(_measure), False),
    "padding_norm": (_measure, True), "word_norm_mean": (_measure, True),
    "padding_nearest_words": (_neighbours, True), "dead_unit_fraction": (_share, True),
    "pre_activation_mean": (_measure, True), "pre_activation_std": (_measure, True),
    "val_accuracy": (_optional(_accuracy), False), "kernel_norms": (_kernel_norms, False),
    "shared_input_l1": (_optional(_measure), False), "probe_loss": (_optional(_measure), False),
}


def load_diagnostics(path):
    """The checked records of a `diagnostics.jsonl` (see `read_lines` for its last line).

    Raises:
        ResultsError: naming file and line, for a line `read_lines` refuses or
            a measure missing or of the wrong type.
    """
    records = []
    for where, record in _read_with_where(path):
        _check_fields(record, where, _DIAGNOSTICS_FIELDS, kind="a diagnostics record")
        records.append(record)
    return records


def drop_unfinished_diagnostics(path, finished):
    """Keeps only the diagnostics lines of `finished` (variant, seed) runs: an interrupted run records them anew."""
    path = Path(path)
    if not check_own_file(path, must_exist=False):
        return
    records = load_diagnostics(path)
    kept = [record for record in records if (record["variant"], record["seed"]) in finished]
    if len(kept) != len(records) or last_line_is_cut(path):
        rewrite_records(path, kept)


# ---------------------------------------------------------------- config.json


def missing_diagnostics(run_dir, results_paths=None):
    """The finished (variant, seed) runs of `run_dir` that have no line in its `diagnostics.jsonl`."""
    source = Path(run_dir) / DIAGNOSTICS_FILE
    recorded = ({(r["variant"], r["seed"]) for r in load_diagnostics(source)}
                if check_own_file(source, must_exist=False) else set())
    files = results_paths or results_files(run_dir)
    finished = finished_runs(load_results(files, follow_links=bool(results_paths)) if files else [])
    return sorted(finished - recorded)


def read_config(path):
    """The `config.json` the runner wrote: a dict whose `run_settings` is a dict.

    Raises:
        ResultsError: naming the file, when it is not UTF-8 JSON of that shape.
    """
    how = "move it away, or use --force to move it aside and start over"
    raw = read_own_file(path)
    try:
        # utf-8-sig: a byte order mark an editor put first is not an error.
        content = _parse_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not UTF-8 text, so not a padzero config; {how}.") from None
    except _DuplicateKey as error:
        raise ResultsError(f"{path} has the key {json.dumps(error.args[0])} twice; keep one of them.") from None
    except (ValueError, RecursionError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply, or a number too long"
        raise ResultsError(f"{path} is not valid JSON ({detail}); {how}.") from None
    if not isinstance(content, dict) or not isinstance(content.get("run_settings"), dict):
        raise ResultsError(f"{path} is not a padzero config (an object with \"run_settings\"); {how}.")
    return content


# ---------------------------------------------------------------- the lock


def _lock_path(out_dir, results_name):
    return Path(out_dir) / f"{results_name}.lock"


@contextlib.contextmanager
def study_lock(out_dir, results_name=RESULTS_FILE):
    """Holds an exclusive lock on one results file of `out_dir`; refuses at once if another process holds it.

    Shards write files of their own, so each locks its own file and they run
    side by side in one folder.

    How no lock file is left behind: the lock is `flock` on
    `<results file>.lock`, which is deleted while still locked, on release.
    A process that opened the file just before that deletion may then get
    the lock on a file no longer in the folder; so, once locked, it checks
    that the path still names the file it holds (same inode) and otherwise
    starts over. At most one process ever holds the file the path names. A
    process killed with the lock held leaves the (empty) file; the next run
    takes it over and deletes it.

    Args:
        out_dir: the study folder (it must exist).
        results_name: the results file to lock, `RESULTS_FILE` or a shard's.

    Raises:
        ResultsError: when another process holds the lock.
    """
    if fcntl is None:  # no flock on this platform (Windows): run unguarded
        yield
        return
    path = _lock_path(out_dir, results_name)
    while True:
        # O_NOFOLLOW: a symlink planted at the lock's name must not make this create a file elsewhere.
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as error:
            raise ResultsError(f"Cannot open the lock file {path} ({error.strerror}); remove it if it is a link or "
                               "not a file, or choose another --out.") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ResultsError(
                f"Another padzero process is writing {Path(out_dir) / results_name}; wait for it to finish, "
                "or give this one another --out (or a --shard of its own).") from None
        try:
            still_named = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            still_named = False
        if still_named:
            break
        os.close(descriptor)  # the holder before us deleted it: lock the file the path names now
    try:
        yield
    finally:
        # Delete, then unlock (by closing): a process that opened the old file sees it is no longer named.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(descriptor)


def is_locked(out_dir, results_name):
    """Whether another process holds `study_lock` on `results_name` of `out_dir` right now."""
    try:
        with study_lock(out_dir, results_name):
            return False
    except FileError:
        return True
