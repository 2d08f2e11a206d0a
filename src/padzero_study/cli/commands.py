"""The `padzero` commands: each builds its settings (checked once, before Keras is imported), chooses the
backend, then calls the study, the reports or the bench.

Keras reads its backend once, at import, so the backend is chosen
(`padzero_study.runtime.backends.activate_backend`) before anything imports Keras;
`--help`, `--version` and `report` never import it.
"""

import dataclasses
import importlib
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from padzero_study import files
from padzero_study.cli.help import SIZE_FLAGS, run_defaults
from padzero_study.cli.parser import AllEncoders
from padzero_study.data import newsgroups
from padzero_study.files import shown
from padzero_study.models.encoders import ENCODERS
from padzero_study.models.variants import encoder_cells
from padzero_study.runtime.allocator import reuse_freed_memory
from padzero_study.runtime.backends import BACKENDS, activate_backend, installed_backends
from padzero_study.runtime.compilation_cache import enable_jax_compilation_cache
from padzero_study.study.settings import StudyConfig, StudyError, StudyRun, check_outside_data
from padzero_study.wording import format_duration

logger = logging.getLogger(__name__)

# How the command line names each setting in an error: by its flag.
FLAGS = {
    "variants": "--variants",
    "embedding_init_scale": "--init-scale",
    "distribute": "--distribute",
    "padding": "--padding",
    "shard": "--shard",
    "data_path": "--data",
    "out_dir": "--out",
    "fast_path": "--fast-path",
    "dataset": "--dataset",
    "backend": "--backend",
    "force": "--force",
    "seeds": "--seeds",
    "epochs": "--epochs",
    "max_docs": "--max-docs",
    "maxlen": "--maxlen",
    "vocab_size": "--vocab-size",
    "batch_size": "--batch-size",
}


class UsageError(ValueError):
    """A flag or argument that cannot work, found before Keras is imported (one line)."""


def study_run(args, kind, backend):
    """The `StudyRun` of `reproduce` or `diagnose`, checked: flags given, else the dataset's defaults for `kind`."""
    defaults = run_defaults(args.dataset, kind)
    sizes = {key: defaults[key] if getattr(args, key) is None else getattr(args, key) for key in SIZE_FLAGS}
    try:
        config = StudyConfig(
            dataset=args.dataset,
            data_path=args.data,
            variants=args.variants,
            batch_size=args.batch_size,
            padding=args.padding,
            embedding_init_scale=args.init_scale,
            fast_path=False if kind == "diagnose" else args.fast_path,  # diagnose measures the plain layers' inputs
            distribute=args.distribute,
            backend=backend,
            **sizes,
        )
        return StudyRun(
            config,
            study_out_dir(args, backend),
            shard=getattr(args, "shard", None),
            diagnose=kind == "diagnose",
            force=args.force,
        )
    except StudyError as error:
        raise UsageError(
            error.worded({**FLAGS, "out_dir": "--out" if args.out is not None else "the default --out"})
        ) from None


def study_out_dir(args, backend):
    """The results folder of `reproduce` or `diagnose`: --out, else runs/<dataset>[-quick]-<backend> (diagnose:
    runs/diagnose-<dataset>-<backend>), relative to the current folder."""
    if args.out is not None:
        return args.out
    if args.command == "diagnose":
        return os.path.join("runs", f"diagnose-{args.dataset}-{backend}")
    study = "encoders-" if getattr(args, "encoders", None) else ""
    return os.path.join("runs", f"{study}{args.dataset}{'-quick' if args.quick else ''}-{backend}")


# What TensorFlow's C++ core writes at import, before any log level applies: absl's preamble and INFO lines
# such as "I0000 00:00:17.0 123 port.cc:153] oneDNN custom operations are on ...".
IMPORT_INFO_LINE = re.compile(r"(I\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl::InitializeLog\(\))")


def import_quietly(module="keras"):
    """Imports `module`, holding back the INFO lines TensorFlow writes to stderr as it loads; the rest is passed on.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines TensorFlow writes before its logging starts, and they would
    bury a one-line error that follows. Warnings, errors and tracebacks are kept.
    """
    if module in sys.modules:
        return sys.modules[module]
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            return importlib.import_module(module)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            for line in held.read().decode("utf-8", errors="replace").splitlines(keepends=True):
                if not IMPORT_INFO_LINE.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


def reproduce(args):
    reuse_freed_memory()  # before Keras starts its threads
    backend = activate_backend(args.backend)  # before anything imports Keras
    kind = "quick" if args.quick else "full"
    if args.encoders:
        args.variants = encoder_cells(args.encoders)
    study = study_run(args, kind, backend)  # every flag checked before anything heavy loads
    if args.quick and isinstance(args.encoders, AllEncoders):
        import_quietly(backend)  # which device it trains on: its framework, without TensorFlow's INFO lines
        study = dataclasses.replace(
            study, config=dataclasses.replace(study.config, variants=encoder_cells(quick_encoders(backend)))
        )
    train_and_report(study, also=("encoders", "encoders_plot"))


def quick_encoders(backend):
    """The encoders `--encoders all --quick` trains: on a CPU, those whose quick epoch takes seconds, saying which
    it leaves out and how to train them."""
    from padzero_study.runtime import machine

    if machine.training_device(backend)[0] != "cpu":
        return tuple(ENCODERS)
    slow = [name for name, encoder in ENCODERS.items() if not encoder.quick_on_cpu]
    if slow:
        costs = ", ".join(f"{name} ~{format_duration(ENCODERS[name].cpu_epoch_seconds)}" for name in slow)
        logger.info(
            "--quick on a CPU leaves out %s: an epoch of the study's posts takes %s on a 2 vCPU CPU; name "
            "them in --encoders to train them too",
            ", ".join(slow),
            costs,
        )
    return tuple(name for name in ENCODERS if name not in slow)


def diagnose(args):
    reuse_freed_memory()
    backend = activate_backend(args.backend)
    train_and_report(study_run(args, "diagnose", backend), also=("diagnostics", "diagnostics_plot"))


def train_and_report(study, also):
    """Imports Keras, runs `study` and writes its folder's report; prints the report's path, and the path written
    under `also` = (label, key) where the report has one."""
    import_quietly()
    from padzero_study.reports import folder_report
    from padzero_study.study import runner

    enable_jax_compilation_cache()  # the runs share their shapes: each program compiles once
    folder = runner.run(study, verbose=1)  # read once; the report takes it as it stands
    # Other shards may still be running: the report holds what all results files have so far.
    written = folder_report.write_report(folder)
    label, key = also
    print(f"report: {written['report_markdown']}" + (f"; {label}: {written[key]}" if key in written else ""))


def report(args):
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        raise UsageError(f"DIR {shown(run_dir)} does not exist; give the folder 'padzero reproduce' wrote (its --out).")
    if not run_dir.is_dir():
        raise UsageError(
            f"DIR {shown(run_dir)} is a file, not a folder; give the folder 'padzero reproduce' wrote "
            "(its --out), and results files in it with --results."
        )
    for results_path in args.results or ():
        path = Path(results_path)
        if path.exists() and not files.is_regular_file(path, follow_links=True):  # a fifo would never end
            raise UsageError(
                f"--results {shown(path)} is not a regular file; give the results.jsonl files "
                "'padzero reproduce' wrote."
            )
    from padzero_study.reports import folder_report

    written = folder_report.write_report(args.run_dir, results_paths=args.results)
    print(f"report: {written['report_markdown']}")
    if "diagnostics_table" in written:
        print(f"diagnostics: {written['diagnostics_table']}")


def bench(args):
    from padzero_study import bench as benchmarks

    # Everything that can fail is checked before the measurements take their time, and before Keras is imported.
    backends = sorted(installed_backends(), key=BACKENDS.index) if args.backends is None else args.backends
    benchmarks.check_output_file(args.out)
    benchmarks.check_choices(args.parts, backends)
    if left_out := benchmarks.left_out(args.parts):
        logger.info(left_out)
    if args.steps is not None and not {"model", "bag"} & set(args.parts):
        raise UsageError(
            f"--steps counts the training steps of the model and bag parts, which --parts "
            f"{','.join(args.parts)} leaves out; drop --steps, or add model or bag to --parts."
        )
    if args.data:
        try:
            newsgroups.check_data_path(args.data)
            check_outside_data(args.out, "20news", args.data)
        except (newsgroups.DataError, StudyError) as error:
            raise UsageError(
                f"--data {error}"
                if isinstance(error, newsgroups.DataError)
                else error.worded({**FLAGS, "out_dir": "--out"})
            ) from None
    # The driver's own Keras only validates: named backends need no word on Keras's config file, and a Keras
    # already imported (a caller in this process) keeps its backend.
    activate_backend(backends[0] if args.backends is not None and "keras" not in sys.modules else None)
    import_quietly()
    lengths = None
    if args.data:
        from padzero_study.data import text

        encoded = text.encode_newsgroups(newsgroups.load_newsgroups(args.data))
        lengths = benchmarks.lengths_of(encoded.x_train)
    results = benchmarks.run_bench(
        args.parts, backends, quick=args.quick, lengths=lengths, steps=args.steps, repeats=args.repeats
    )
    benchmarks.write_results(results, args.out)
    print(benchmarks.format_table(results))
    print(f"results: {args.out}")
