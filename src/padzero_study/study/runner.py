"""The study runner: train every (variant, seed) once, append results, resume after a kill.

The grid can be split over processes or machines (`shard=(K, N)`), each shard
appending to its own results file; the report merges them. The folder is read
once, through `padzero_study.results.StudyFolder`; its checks are
`folder_checks`', the data `encoded_data`'s, one run `training`'s.

`run(study)` takes a checked `StudyRun` (what `padzero reproduce` and `diagnose`
build) and reads top to bottom: the folder's checks under the lock, the data,
then the runs; `run_study(config, out_dir, ...)` is the same for a notebook.
"""

import contextlib
import logging

import keras

from padzero_study import files, results
from padzero_study.data import text
from padzero_study.files import FileError, missing_folders, remove_empty_folders
from padzero_study.models.variants import get_variant
from padzero_study.results import DIAGNOSTICS_FILE, StudyFolder
from padzero_study.study import progress as progress_module
from padzero_study.study.encoded_data import check_encoded_data, data_facts, load_encoded_data
from padzero_study.study.folder_checks import (
    check_out_dir,
    check_same_data,
    move_previous_results,
    results_files_in_use,
    write_config,
)
from padzero_study.study.settings import StudyConfig, StudyError, StudyRun  # noqa: F401  StudyConfig: the API's
from padzero_study.study.training import train_one_run
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)


def distribution_scope(config):
    """Data parallel training over every local device when `config.distribute`, else nothing."""
    if not config.distribute:
        return contextlib.nullcontext()
    devices = keras.distribution.list_devices()
    logger.info("data parallel over %d devices: %s", len(devices), ", ".join(devices))
    return keras.distribution.DataParallel(devices=devices).scope()


def run_study(config, out_dir, *, force=False, verbose=0, shard=None, diagnose=False):
    """Runs every (variant, seed) of `config` not yet finished in `out_dir`, appending their results.

    A process holds its results file's lock (`padzero_study.results.study_lock`)
    from before it reads which runs are done until its last run ends: a second
    process on the same file is refused at once.

    Args:
        config: a `StudyConfig`.
        out_dir: folder for results.jsonl, config.json and the report; reusing
            it resumes the study (finished runs are skipped, interrupted ones redone).
        force: if `out_dir` holds results of different settings (or a
            config.json that is not one), move every file of that study to a
            backup folder inside it instead of refusing.
        verbose: 1 draws a progress bar within each epoch when stderr is a
            terminal; 0 (or not a terminal) logs a progress line every 30 s.
        shard: `None` for the whole grid, or `(K, N)` with 1 <= K <= N to run only
            the K-th of N interleaved parts of the variant x seed grid, appending
            to `results.shard-K-of-N.jsonl`. Shards may share `out_dir` or run
            elsewhere and be copied back; a run finished in any results file of
            `out_dir` is skipped, and the report merges all of them.
        diagnose: also append `padzero_study.diagnostics.recorder` measures (padding
            gradient share, padding vector norm, dead ReLUs, ...) of every run
            to `out_dir/diagnostics.jsonl` and plot them. Needs
            `config.fast_path=False`: the measures read the plain layers.

    Returns:
        `out_dir` as a `Path`. The runner trains and records only: the report
        of the folder is `padzero_study.reports.folder_report.write_report(out_dir)`'s
        to write (`padzero reproduce` and `diagnose` call it with the folder `run` returns).

    Raises:
        StudyError: before anything is written, for bad settings, a folder of
            other settings, or a results file another process is writing.
    """
    return run(StudyRun(config, out_dir, shard=shard, diagnose=diagnose, force=force), verbose=verbose).path


def run(study, *, verbose=0):
    """`run_study` of a `StudyRun`, whose settings are checked already (the command line builds it before Keras
    loads).

    Returns:
        The `StudyFolder` of `study.out_dir`, read once and kept current as the runs appended to it: hand it to
        `padzero_study.reports.folder_report.write_report`.
    """
    config, out_dir, force, diagnose = study.config, study.out_dir, study.force, study.diagnose
    if config.backend != keras.backend.backend():
        raise StudyError(
            f"<<backend>> {config.backend!r} but Keras is running on {keras.backend.backend()!r}; set "
            "KERAS_BACKEND before Keras is imported (the command line's --backend does this)."
        )
    mine, results_name = study.runs, study.results_name
    folder = StudyFolder(out_dir)
    # Nothing is written until the settings, the folder and the data have passed their checks.
    move_aside = check_out_dir(config, folder, force)
    created = missing_folders(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a name too long, a file in the way, a read-only place
        raise StudyError(f"<<out_dir>>: {files.describe_os_error(out_dir, error, writing=True)}") from None
    try:
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(results.study_lock(out_dir, results_name))
            except FileError as error:
                raise StudyError(str(error)) from None
            # Under the lock: no process can finish or start a run of this file while we decide what is left
            # (a results file another process changed since the check is read again).
            others = results_files_in_use(out_dir, results_name)
            if others:
                raise StudyError(
                    f"Another padzero process is writing {', '.join(others)} in {out_dir}, whose runs "
                    "overlap these; wait for it to finish, or give this one another --out."
                )
            previous = [] if move_aside else folder.records
            finished = results.finished_runs(previous)
            todo = [(v, s) for v, s in mine if (v, s) not in finished]
            if diagnose and not move_aside:
                _check_diagnostics_of_finished_runs(folder, [run for run in mine if run in finished])
            logger.info(
                "%d of %s finished, %d to do, in %s",
                len(mine) - len(todo),
                count_of(len(mine), "run"),
                len(todo),
                out_dir / results_name,
            )
            if todo:
                # Data first: its errors leave the folder as it was.
                if move_aside:
                    _refuse_to_move_files_in_use(folder, results_name)
                encoded = load_encoded_data(config)
                check_encoded_data(config, encoded)
                facts = data_facts(encoded)
                if not move_aside and check_same_data(folder, previous, facts, force):
                    _refuse_to_move_files_in_use(folder, results_name)
                    move_aside, previous, finished, todo = True, [], set(), mine
                _train(study, folder, encoded, facts, todo, previous, move_aside, verbose, finished)
    except BaseException:
        remove_empty_folders(created)  # a study refused before it began leaves no empty folder behind
        raise
    return folder


def _check_diagnostics_of_finished_runs(folder, finished):
    """Refuses a diagnose study whose finished runs have no diagnostics lines: its report would lack them."""
    lacking = [run for run in folder.missing_diagnostics() if run in finished]
    if lacking:
        runs = ", ".join(f"{variant} seed {seed}" for variant, seed in lacking[:5]) + (
            ", ..." if len(lacking) > 5 else ""
        )
        raise StudyError(
            f"{folder.path} has {count_of(len(lacking), 'finished run')} with no lines in "
            f"{DIAGNOSTICS_FILE} ({runs}); use --force to move the results aside and redo them with "
            "diagnostics, or another --out."
        )


def _refuse_to_move_files_in_use(folder, results_name):
    in_use = [
        path.name
        for path in folder.results_paths
        if path.name != results_name and results.is_locked(folder.path, path.name)
    ]
    if in_use:
        raise StudyError(
            f"--force would move {', '.join(in_use)} from under the process writing it; wait for it to finish."
        )


def _train(study, folder, encoded, facts, todo, previous, move_aside, verbose, finished):
    """The part of `run` that writes, once the data has passed its checks: the folder, then the runs."""
    config = study.config
    if move_aside:
        move_previous_results(folder)
    folder.set_aside_interrupted_runs(study.results_name)
    if study.diagnose:
        folder.drop_unfinished_diagnostics(finished)
    write_config(config, folder, facts)
    logger.info(
        "data: %d train / %d validation posts, vocabulary %d, maxlen %d",
        len(encoded.y_train),
        len(encoded.y_val),
        encoded.vocab_size,
        config.maxlen,
    )
    run_epochs, epoch_seconds, variant_seconds = progress_module.known_progress(config, folder.path, previous)
    # Each variant's epochs timed on their own: an encoder study's LSTM epoch is many of its average's.
    progress = progress_module.StudyProgress(
        len(todo),
        config.epochs,
        config.patience,
        run_epochs,
        epoch_seconds,
        run_variants=[variant for variant, _ in todo],
        known_variant_seconds=variant_seconds,
    )
    logger.info("%s to do; study ETA %s", count_of(len(todo), "run"), progress.eta())
    by_padding = {config.padding: encoded}  # an encoder study cell may train with the other padding
    with distribution_scope(config):
        for number, (variant, seed) in enumerate(todo, start=1):
            logger.info("run %d/%d: %s seed %d", number, len(todo), variant, seed)
            padding = get_variant(variant).padding or config.padding
            if padding not in by_padding:
                by_padding[padding] = text.repadded(encoded, padding)
            train_one_run(
                config,
                by_padding[padding],
                variant,
                seed,
                folder,
                study.results_name,
                progress,
                verbose,
                study.diagnose,
                facts,
            )
