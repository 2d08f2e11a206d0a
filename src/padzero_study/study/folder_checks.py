"""Whether a results folder can take a study: its settings and its data the same as the finished runs', its
files the study's own; and, with --force, moving another study's files aside. Reads only through the
`StudyFolder` it is given."""

import json
import logging
import os
import shutil
import sys
import time

from padzero_study import files, results
from padzero_study.files import FileError
from padzero_study.results import CONFIG_FILE, DIAGNOSTICS_FILE, RESULTS_FILE
from padzero_study.runtime import machine
from padzero_study.study.settings import StudyConfig, StudyError

logger = logging.getLogger(__name__)


def check_same_data(folder, records, facts, force):
    """Whether the finished runs of the `StudyFolder` `folder` were trained on other data than `facts` describe.

    Compared with each finished run's record and `config.json`: a fact recorded on both sides that differs
    (a folder from before fingerprints were recorded compares the facts it has). Results of other data must
    not be mixed into one report; with `force` they are to be moved aside.

    Returns:
        True when they differ and `force` is given.

    Raises:
        StudyError: when they differ without `force` (one line).
    """
    if not any(record["record"] == "run_end" for record in records):
        return False  # nothing finished: nothing to mix with
    recorded = [record["config"] for record in records if record["record"] == "run_end" and record.get("config")]
    written = (folder.config or {}).get("data")
    recorded += [written] if isinstance(written, dict) else []
    differences = {}
    for old in recorded:
        for key, value in facts.items():
            if key in old and old[key] != value:
                differences.setdefault(key, (old[key], value))
    if not differences or force:
        return bool(differences)
    described = ", ".join(
        f"{key}: {results.as_json_text(old, 24)} -> {results.as_json_text(new, 24)}"
        for key, (old, new) in differences.items()
    )
    raise StudyError(
        f"{folder.path} holds finished runs trained on other data ({described}); rerun on the data they "
        "were trained on, or use another --out, or --force to move them to a backup folder and start over."
    )


def check_out_dir(config, folder, force):
    """Checks, writing nothing, that the `StudyFolder` `folder` can take this study; returns True if its files must move aside.

    Refused without `force` (with it, moved aside): a `config.json` or
    results file that is not one the runner wrote (naming it); settings that
    differ from those of `config.json` or of the finished runs' own records
    (a hand-edited `config.json` does not let other runs count as done); and
    report files with no study beside them (someone's own files).
    """
    out_dir = folder.path
    existing = out_dir
    try:
        while not os.path.lexists(existing) and existing != existing.parent:
            existing = existing.parent
        usable = existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)
    except OSError as error:  # a name too long, a path through a file, ...
        raise StudyError(f"<<out_dir>>: {files.describe_os_error(out_dir, error, writing=True)}") from None
    if not usable:
        raise StudyError(f"Cannot write to --out {out_dir}: {existing} is not a writable folder. Choose another --out.")
    study_files = [
        *folder.results_paths,
        *(
            out_dir / name
            for name in (CONFIG_FILE, results.INTERRUPTED_FILE, DIAGNOSTICS_FILE)
            if os.path.lexists(out_dir / name)
        ),
    ]
    if not study_files:
        # Report files with no study beside them are someone's own files: not ours to overwrite.
        foreign = [name for name in results.REPORT_FILES if os.path.lexists(out_dir / name)]
        if foreign and not force:
            raise StudyError(
                f"{out_dir} holds {', '.join(foreign)} but no study results or config; use another "
                "--out, or --force to move them to a backup folder."
            )
        return bool(foreign)
    how = "use another --out, or --force to move them to a backup folder and start over"
    try:
        previous = folder.config["run_settings"] if folder.config is not None else None
        records = folder.records
    except FileError as error:
        if force:
            return True
        if "--force" in str(error):
            raise
        raise results.ResultsError(f"{str(error).rstrip('.')}. Or {how}.") from None
    # A setting added to StudyConfig after those results were written
    # counts as its default, so older result folders stay resumable.
    defaults = StudyConfig(backend=config.backend).run_settings()
    wanted = config.run_settings()
    # The finished runs' own records count as much as config.json: a hand-edited config must not merge them.
    recorded = [previous] if previous is not None else []
    recorded += [record["config"] for record in records if record["record"] == "run_end" and record.get("config")]
    differences = {}
    for settings in recorded:
        for key, value in wanted.items():
            if key == "data_path":
                continue  # the same archive may be reached by another path; what the data was is recorded
            old = settings.get(key, defaults[key])
            if old != value:
                differences.setdefault(key, (old, value))
    if differences and not force:
        described = ", ".join(
            f"{k}: {results.as_json_text(old, 40)} -> {results.as_json_text(new, 40)}"
            for k, (old, new) in differences.items()
        )
        raise StudyError(f"{out_dir} holds results of different settings ({described}); {how}.")
    return bool(differences)


def _files_to_move_aside(out_dir):
    """Everything a study wrote in `out_dir`: results, shards, set-aside and diagnostics lines, config, report."""
    names = (results.INTERRUPTED_FILE, DIAGNOSTICS_FILE, CONFIG_FILE, *results.REPORT_FILES)
    # Links are moved as links (never followed); a folder of that name is not one of ours.
    return [
        *results.results_files(out_dir),
        *(out_dir / name for name in names if os.path.islink(out_dir / name) or files.is_regular_file(out_dir / name)),
    ]


def move_previous_results(folder):
    """Moves every file of the previous study in the `StudyFolder` `folder` into `previous-<time>/` in it; returns
    that backup folder."""
    out_dir = folder.path
    backup = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        for suffix in range(1, 1000):  # two --force runs in one second must not share a backup
            try:
                backup.mkdir()
                break
            except FileExistsError:
                backup = out_dir / f"previous-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}"
        for path in _files_to_move_aside(out_dir):
            shutil.move(path, backup / path.name)  # a link is moved as a link, never followed
    except OSError as error:
        raise StudyError(
            files.describe_os_error(getattr(error, "filename", None) or backup, error, writing=True)
        ) from None
    folder.forget()
    logger.warning("moved the previous results to %s", backup)
    return backup


def results_files_in_use(out_dir, results_name):
    """The other results files of `out_dir` whose runs may overlap this one's, and that a process is writing now.

    Shards of one N never overlap; the whole grid overlaps every shard, and
    shards of different N overlap each other.
    """

    def shard_count(name):  # N of a shard's file; None for the whole grid's
        return None if name == RESULTS_FILE else name.rsplit("-of-", 1)[1].split(".", 1)[0]

    in_use = []
    for lock in sorted([out_dir / f"{RESULTS_FILE}.lock", *out_dir.glob(f"{results.SHARD_RESULTS_GLOB}.lock")]):
        name = lock.name[: -len(".lock")]
        if not lock.exists():
            continue
        counts = shard_count(name), shard_count(results_name)
        overlapping = None in counts or counts[0] != counts[1]
        if name != results_name and overlapping and results.is_locked(out_dir, name):
            in_use.append(name)
    return in_use


def write_config(config, folder, facts):
    """Writes `config.json`: the settings, the data's facts, the software versions, the machine and the device
    the runs train on."""
    import keras  # loaded by now: the runs train with it

    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    for module_name in ("jax", "tensorflow", "torch", "numpy", "sklearn"):
        module = sys.modules.get(module_name)
        if module is not None:
            versions[module_name] = getattr(module, "__version__", "?")
    content = {
        "run_settings": config.run_settings(),
        "variants": list(config.variants),
        "seeds": config.seeds,
        "data": facts,
        "versions": versions,
        "machine": machine.describe_machine(),
        "device": machine.training_device(config.backend)[1],
    }
    # Shards of one study may start together: replace the file whole, so none reads half of it.
    folder.write_config(content, json.dumps(content, indent=2, sort_keys=True) + "\n")
