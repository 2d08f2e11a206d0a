"""`padzero` command line: thin argparse front ends over the study.

    padzero reproduce [--quick] [--data PATH | --dataset synthetic] [--shard K/N] [...]
    padzero diagnose [--variants ...] [--padding post] [--maxlen N] [...]
    padzero report DIR
    padzero bench [--quick] [--parts layer,model,bag] [--backends jax,tensorflow,torch] [--data PATH]

Keras reads its backend once, at import, so the backend is chosen
(`padzero_study.runtime.backends.activate_backend`) before anything imports Keras;
`--help`, `--version` and `report` never import it. The variant and dataset
registries this module reads at import are Keras-free.
"""

import argparse
import importlib
import logging
import math
import os
import re
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from padzero_study.runtime.allocator import reuse_freed_memory
from padzero_study.runtime.backends import BACKENDS, PREFERENCE, activate_backend, installed_backends
from padzero_study.runtime.compilation_cache import enable_jax_compilation_cache
from padzero_study.data.datasets import DATASETS
from padzero_study.files import shown
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import ENCODERS
from padzero_study.models.variants import MAX_INIT_SCALE, VARIANTS, encoder_cells, get_variant, study_variants

logger = logging.getLogger(__name__)

SIZE_FLAGS = ("seeds", "epochs", "max_docs", "maxlen", "vocab_size")
DIAGNOSE_VARIANTS = "baseline,padzero,uniform_nonneg"
# Embeddings start uniform in (-S, S); Keras's default is 0.05. Past 1 the vectors dwarf what training moves them
# by, and huge scales overflow to a val_loss of nan: no question of the study needs them.


class UsageError(ValueError):
    """A flag or argument that cannot work, found before Keras is imported (one line)."""


def run_defaults(dataset, kind):
    """The sizes a run of `dataset` takes when no flag sets them (from the dataset registry)."""
    return DATASETS[dataset].run_defaults[kind]


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message):
        self.exit(2, f"padzero: error: {message} (see '{self.prog} --help')\n")

    def parse_args(self, args=None, namespace=None):
        """As argparse, but a flag the command does not take is refused by that command's parser, whose
        --help lists the flags it does take ('padzero diagnose --help', not 'padzero --help')."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command_parser = getattr(self, "command_parsers", {}).get(getattr(parsed, "command", None), self)
            command_parser.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed


# ---------------------------------------------------------------- argument types: text -> value. What values are
# allowed is StudyConfig's and run_bench's to say (padzero.validation), once the backend is chosen.


def integer(text):
    """Text -> int, for the size flags."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, received {text!r}") from None


def init_scale(text):
    """Text -> float in (0, MAX_INIT_SCALE], for --init-scale."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_INIT_SCALE):
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most {MAX_INIT_SCALE:g}, such as "
                                         f"Keras's default 0.05; received {text!r}")
    return value


def non_empty(text):
    """Text that is not empty or blank, for paths and lists: '' would otherwise mean 'the default' silently."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, received {text!r}")
    return text


def variant_names(text):
    """'a,b' -> ('a', 'b'); 'all' -> the study's variants. Unknown names are refused by StudyConfig."""
    if text.strip() == "all":
        return study_variants()
    names = tuple(name.strip() for name in non_empty(text).split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated variant names, received {text!r}")
    return names


class AllEncoders(tuple):
    """`--encoders all`: every registered encoder, which `--quick` may narrow on a CPU (names given are kept)."""


def encoder_names(text):
    """'a,b' -> ('a', 'b'); 'all' -> every registered encoder (an `AllEncoders`), for --encoders."""
    if text.strip() == "all":
        return AllEncoders(ENCODERS)
    names = tuple(dict.fromkeys(name.strip() for name in non_empty(text).split(",") if name.strip()))
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated encoder names, received {text!r}")
    unknown = [name for name in names if name not in ENCODERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown encoder{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
                                         f"choose from {', '.join(ENCODERS)}, or 'all'")
    return names


def comma_list(text):
    """'a, b' -> ['a', 'b'] (names are checked by the bench)."""
    return [item.strip() for item in non_empty(text).split(",") if item.strip()]


def shard(text):
    """'K/N' -> (K, N), for --shard."""
    index, slash, count = text.partition("/")
    try:
        parsed = (int(index), int(count)) if slash else None
    except ValueError:
        parsed = None
    if parsed is None or not 1 <= parsed[0] <= parsed[1]:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, such as 2/4; received {text!r}")
    return parsed


# ---------------------------------------------------------------- help


def _listing(title, entries):
    """'title:' then one '  name  description' line per entry, wrapped under the description column."""
    width = max(len(name) for name, _ in entries) + 4
    lines = [f"{title}:"]
    for name, description in entries:
        lines += textwrap.wrap(description, help_width(), initial_indent=f"  {name:<{width - 2}}",
                               subsequent_indent=" " * width)
    return "\n".join(lines)


def help_width():
    """The width argparse wraps help to, for the text laid out here."""
    return max(shutil.get_terminal_size().columns - 2, 40)


def defaults_table(kinds):
    """The defaults of the size flags, one row per dataset and kind of run, for the epilog of reproduce and diagnose.

    Args:
        kinds: ((kind, label), ...): the kinds of run of the command ("full", "quick", "diagnose") and how the
            table names them; a dataset whose kinds all have the same sizes gets one row, "any".
    """
    header = ("dataset", "run", "seeds", "epochs", "max-docs", "maxlen", "vocab-size")
    rows = []
    for dataset in DATASETS:
        sizes_by_label = {label: run_defaults(dataset, kind) for kind, label in kinds}
        if len(kinds) > 1 and all(sizes == run_defaults(dataset, kinds[0][0]) for sizes in sizes_by_label.values()):
            sizes_by_label = {"any": run_defaults(dataset, kinds[0][0])}
        for label, sizes in sizes_by_label.items():
            rows.append((dataset, label, *("all" if sizes[key] is None else str(sizes[key]) for key in SIZE_FLAGS)))
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    lines = ["defaults of the size flags (a flag given wins):"]
    for row in [header, *rows]:
        lines.append("  " + "  ".join(cell.ljust(width) if column < 2 else cell.rjust(width)
                                      for column, (cell, width) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def study_epilog(kinds, encoders=False):
    in_study = [(name, variant.description) for name, variant in VARIANTS.items() if variant.in_study]
    ablations = [(name, variant.description) for name, variant in VARIANTS.items() if not variant.in_study]
    parts = [defaults_table(kinds), _listing("datasets (--dataset)", [(n, d.description) for n, d in DATASETS.items()]),
             _listing("variants (--variants; 'all' = these)", in_study)]
    if ablations:
        parts.append(_listing("ablations (name them in --variants)", ablations))
    if encoders:
        parts.append(_listing("encoders (--encoders; each is trained with every embedding below, then Dropout 0.3 "
                              "and Dense softmax)", [(n, e.description) for n, e in ENCODERS.items()]))
        parts.append(_listing("embeddings of the encoder study", [(n, e.description) for n, e in EMBEDDINGS.items()]))
    return "\n\n".join(parts)


def add_study_flags(parser, *, variants, encoders=False):
    """The data, training and output flags that `reproduce` and `diagnose` share."""
    source = parser.add_argument_group("data")
    source.add_argument("--data", type=non_empty, metavar="PATH", help="20news-bydate.tar.gz or its extracted folder "
                        "(default: scikit-learn's data home, then scikit-learn's download)")
    source.add_argument("--dataset", choices=tuple(DATASETS), default="20news",
                        help="which posts; 'synthetic' is a generated stand-in with small default sizes, for a smoke "
                        "test (default: 20news; see the lists below)")
    source.add_argument("--max-docs", type=integer, metavar="N", help="use a random subset of N posts "
                        "(synthetic: generate N) (default: see below)")
    source.add_argument("--maxlen", type=integer, metavar="N", help="ids per post after padding (default: see below)")
    source.add_argument("--padding", choices=("pre", "post"), default="pre", help="where padding goes (default: pre)")
    source.add_argument("--vocab-size", type=integer, metavar="N", help="most frequent words kept (default: see below)")
    training = parser.add_argument_group("training")
    models = training.add_mutually_exclusive_group()
    models.add_argument("--variants", type=variant_names, default=variants, metavar="NAMES",
                        help=f"comma-separated variants, or 'all' (default: {variants}; see the lists below)")
    if encoders:
        models.add_argument("--encoders", type=encoder_names, metavar="NAMES", help="the encoder study instead: "
                            "each encoder, comma-separated or 'all', with each of the four embeddings of the lists "
                            "below (the LSTM with pre- and post-padding), into runs/encoders-<dataset>[-quick]-"
                            "<backend> (default: the padding study's --variants)")
    training.add_argument("--seeds", type=integer, metavar="N", help="seeds per variant (default: see below)")
    training.add_argument("--epochs", type=integer, metavar="N", help="maximum epochs, early stopping on val_loss "
                          "with patience 5 (default: see below)")
    training.add_argument("--batch-size", type=integer, default=32, metavar="N", help="batch size (default: 32)")
    training.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: KERAS_BACKEND, else the one "
                          f"in Keras's config file if installed, else the first installed of {', '.join(PREFERENCE)})")
    training.add_argument("--init-scale", type=init_scale, metavar="S", help="embeddings start uniform in (-S, S) "
                          f"for the variants with Keras's default init; 0 < S <= {MAX_INIT_SCALE:g} (default: Keras's 0.05)")
    training.add_argument("--distribute", action="store_true", help="data parallel over all local devices with "
                          "keras.distribution.DataParallel (jax backend only; default: off)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", type=non_empty, metavar="DIR", help="results folder, outside the --data folder "
                        "(default: runs/<dataset>[-quick]-<backend>, runs/diagnose-<dataset>-<backend> for diagnose)")
    output.add_argument("--force", action="store_true", help="if DIR holds results of other settings, move them "
                        "to DIR/previous-<time>/ and start over (default: refuse)")


def package_version():
    try:
        return installed_version("padzero")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser():
    parser = OneLineErrorParser(prog="padzero", description="Zero padding embeddings for Keras 3, and the study that "
                                "shows why.")
    parser.add_argument("--version", action="version", version=f"padzero {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    raw = argparse.RawDescriptionHelpFormatter  # keeps the epilog's tables and lists as laid out

    quick = run_defaults("20news", "quick")
    reproduce = commands.add_parser(
        "reproduce", formatter_class=raw,
        help="run the 20 Newsgroups padding study (resumable) and write its report",
        description=textwrap.fill("Trains every variant x seed, appends to OUT/results.jsonl, then writes "
                                  "summary.csv, report.md and learning_curves.png. Rerun the same command to resume.",
                                  help_width()),
        epilog=study_epilog((("full", "full"), ("quick", "--quick")), encoders=True),
    )
    add_study_flags(reproduce, variants="all", encoders=True)
    # diagnose has no such flags: its measures read the plain layers' inputs.
    path = reproduce.add_mutually_exclusive_group()
    path.add_argument("--fast-path", dest="fast_path", action="store_true", default=None, help="train Embedding -> "
                      "Flatten -> Dense as one padzero.EmbeddingFlattenDense: the same function and gradients, with "
                      "work only where posts hold real tokens (default: on with jax on a CPU, where it is faster; off "
                      "on a GPU and with tensorflow and torch, where it measured slower)")
    path.add_argument("--plain", dest="fast_path", action="store_false", help="train the three plain layers")
    reproduce.add_argument("--quick", action="store_true", help=f"a small real run: {quick['epochs']} epochs x "
                           f"{quick['seeds']} seed on {quick['max_docs']:,} posts (synthetic is small either way)")
    reproduce.add_argument("--shard", type=shard, metavar="K/N", help="run only the K-th of N interleaved parts of the "
                           "variant x seed grid, writing results.shard-K-of-N.jsonl; run the other parts elsewhere (same "
                           "--out or copied back) and `padzero report DIR` merges them (default: the whole grid)")

    diagnose = commands.add_parser(
        "diagnose", formatter_class=raw,
        help="train chosen variants while recording why they stall or learn (diagnostics.jsonl, diagnostics.png)",
        description=textwrap.fill(
            "Trains like 'reproduce' and also records, before training, at steps 1/3/10/30/100/300 of epoch 1 and "
            "after every epoch: the padding row's share of the embedding gradient, the padding vector's norm and "
            "nearest words, dead hidden ReLUs and their pre-activation statistics, and Dense kernel norms of padded "
            "vs real positions.", help_width()),
        epilog=study_epilog((("diagnose", "diagnose"),)),
    )
    add_study_flags(diagnose, variants=DIAGNOSE_VARIANTS)

    report = commands.add_parser("report", help="rebuild summary.csv, report.md and learning_curves.png from results",
                                 description="Rebuilds the report of a study folder from its results files alone.")
    report.add_argument("run_dir", type=non_empty, metavar="DIR", help="a folder written by 'padzero reproduce'")
    report.add_argument("--results", type=non_empty, nargs="+", metavar="FILE", help="results files to merge "
                        "(default: DIR/results.jsonl and every DIR/results.shard-K-of-N.jsonl)")

    bench = commands.add_parser(
        "bench", help="time the layer and the reference model on each backend, side by side",
        description="Times padzero.Embedding against keras.layers.Embedding and the mask x multiply workaround "
        "(forward + backward), training steps of the reference model (Keras baseline, padzero, padzero fast "
        "path, the fast path on padding-only batches as the floor of any pad-skipping step on JAX, native "
        "PyTorch), and with --parts bag the average model's padzero.EmbeddingBag(mean) against Keras's "
        "Embedding(mask_zero=True) -> GlobalAveragePooling1D and PyTorch's nn.EmbeddingBag (the layer's forward + "
        "backward and the model's training step), each in a fresh process, one run; prints tables of ratios and "
        "writes JSON.",
    )
    bench.add_argument("--parts", type=comma_list, default="layer,model", help="comma-separated: layer, model, bag "
                       "(the average model's bag layer) (default: layer,model)")
    bench.add_argument("--backends", type=comma_list, help=f"comma-separated Keras backends among {','.join(BACKENDS)} "
                       "(default: every one installed)")
    bench.add_argument("--quick", action="store_true", help="20 steps x 3 repeats instead of 100 x 5 (noisier)")
    bench.add_argument("--data", type=non_empty, metavar="PATH", help="draw post lengths from this "
                       "20news-bydate.tar.gz or folder (default: synthetic lengths shaped like the real posts')")
    bench.add_argument("--steps", type=integer, metavar="N", help="training steps per timed repeat of the model "
                       "and bag parts (default: 100; 20 with --quick)")
    bench.add_argument("--repeats", type=integer, metavar="N", help="timed repeats, median reported "
                       "(default: 5; 3 with --quick)")
    bench.add_argument("--out", type=non_empty, metavar="FILE", default="bench.json", help="JSON results, written "
                       "once every measurement is done, outside the --data folder (default: bench.json)")
    parser.command_parsers = {"reproduce": reproduce, "diagnose": diagnose, "report": report, "bench": bench}
    return parser


# ---------------------------------------------------------------- commands


def study_config(args, kind):
    """The `StudyConfig` of `reproduce` or `diagnose`: flags given, else the dataset's defaults for `kind`."""
    from padzero_study.study import runner  # imports Keras: the backend is chosen by now

    defaults = run_defaults(args.dataset, kind)
    sizes = {key: defaults[key] if getattr(args, key) is None else getattr(args, key) for key in SIZE_FLAGS}
    return runner.StudyConfig(
        dataset=args.dataset,
        data_path=args.data,
        variants=args.variants,
        batch_size=args.batch_size,
        padding=args.padding,
        embedding_init_scale=args.init_scale,
        fast_path=False if kind == "diagnose" else args.fast_path,  # diagnose measures the plain layers' inputs
        distribute=args.distribute,
        **sizes,
    )


def study_out_dir(args, backend):
    """The results folder of `reproduce` or `diagnose`: --out, else runs/<dataset>[-quick]-<backend> (diagnose:
    runs/diagnose-<dataset>-<backend>), relative to the current folder."""
    if args.out is not None:
        return args.out
    if args.command == "diagnose":
        return os.path.join("runs", f"diagnose-{args.dataset}-{backend}")
    study = "encoders-" if getattr(args, "encoders", None) else ""
    return os.path.join("runs", f"{study}{args.dataset}{'-quick' if args.quick else ''}-{backend}")


def check_study_flags(args, backend):
    """Refuses, before Keras is imported, the flags of `reproduce` and `diagnose` that cannot work or would be ignored.

    Sizes are left to `StudyConfig`, whose validator imports Keras.

    Raises:
        UsageError, data.DataError: one line.
    """
    unknown = [name for name in args.variants if get_variant(name) is None]
    if unknown:
        raise UsageError(f"--variants: unknown {'variant' if len(unknown) == 1 else 'variants'} "
                         f"{', '.join(map(repr, unknown))}; choose from {', '.join(VARIANTS)}, or 'all' "
                         "(names are lowercase).")
    # Encoder study cells have the hidden Dense layer diagnose measures only where they flatten.
    unmeasured = [name for name in args.variants if get_variant(name).embedding and not get_variant(name).flattens]
    if args.command == "diagnose" and unmeasured:
        raise UsageError(f"--variants {', '.join(unmeasured)}: diagnose measures the hidden Dense layer of the "
                         "padding study's models, which these encoder study cells do not have; choose variants of "
                         "the padding study, or flatten/... cells.")
    if args.distribute and backend != "jax":
        raise UsageError(f"--distribute needs the jax backend (keras.distribution supports JAX only); this run is "
                         f"on {backend}. Use --backend jax, or drop --distribute.")
    check_flags_the_run_would_ignore(args)
    if args.data is not None:
        check_data_flag(args.data)
    if args.out is not None:
        check_out_folder(args.out)
    check_out_outside_data(study_out_dir(args, backend), args, DATASETS[args.dataset])


def check_flags_the_run_would_ignore(args):
    """Refuses flags that the chosen dataset or variants would ignore while config.json recorded them as used."""
    if args.data is not None and DATASETS[args.dataset].data_folder is None:
        readers = [name for name, dataset in DATASETS.items() if dataset.data_folder is not None]
        raise UsageError(f"--data: --dataset {args.dataset} reads no data files, so PATH would be ignored; drop "
                         f"--data, or use --dataset {' or '.join(readers)} to train on PATH.")
    if getattr(args, "encoders", None) and args.padding != "pre":
        raise UsageError(f"--padding {args.padding}: each encoder study cell has its own padding (pre, and the LSTM's "
                         "post-padded cells too); drop --padding.")
    if args.init_scale is not None and not any(get_variant(name).keras_default_init for name in args.variants):
        takers = [name for name, variant in VARIANTS.items() if variant.keras_default_init]
        raise UsageError(f"--init-scale widens Keras's default embedding init, which none of --variants "
                         f"{','.join(args.variants)} starts from (they set their own); drop --init-scale, or add "
                         f"a variant that does ({', '.join(takers)}).")
    if getattr(args, "fast_path", None) and not any(get_variant(name).flattens for name in args.variants):
        takers = [name for name, variant in VARIANTS.items() if variant.flattens]
        raise UsageError(f"--fast-path fuses Embedding -> Flatten -> Dense, which none of --variants "
                         f"{','.join(args.variants)} has; drop --fast-path, or add a variant that has it "
                         f"({', '.join(takers)}).")


def check_data_flag(data_path):
    """Refuses, without reading it, a --data path that does not exist or is not a regular file or folder."""
    from padzero_study.data import newsgroups as data  # Keras-free

    try:
        data.check_data_path(data_path)
    except data.DataError as error:
        raise UsageError(f"--data {error}") from None


def check_out_outside_data(out, args, dataset):
    """Refuses an --out inside the folder the data is read from: the data is read-only input.

    A results folder in 20news-bydate-train/ was read as a 21st newsgroup, by that run and every later one.
    Both paths are resolved (relative, `..`, links) before they are compared; an archive is a file, so a folder
    beside it is fine.
    """
    folder = dataset.data_folder(args.data) if dataset.data_folder is not None else None
    path = Path(out).resolve()  # as the runner takes it: no ~ expanded
    if folder is not None and (path == folder or folder in path.parents):
        named = "--out" if args.out is not None else "the default --out"
        where = "the --data folder" if args.data is not None else "scikit-learn's download folder"
        raise UsageError(f"{named} {shown(out)} is inside {where} {shown(folder)}, which is read-only input "
                         "(anything written there is mistaken for a newsgroup); choose an --out outside it.")


def check_out_folder(out):
    """Refuses an --out that cannot be a folder: a file, a path through a file, a name too long."""
    path = Path(out)
    try:
        longest = os.pathconf(".", "PC_NAME_MAX")
    except (OSError, ValueError):  # a platform that does not say
        longest = 255
    too_long = [part for part in path.parts if len(os.fsencode(part)) > longest]
    if too_long:  # checked first: asking whether such a path exists fails with a bare errno
        raise UsageError(f"--out: a name in it is longer than the {longest} bytes a file name may have "
                         f"({shown(too_long[0][:20])}...); choose a shorter --out.")
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {shown(path)} is a file, not a folder; give a folder (it is created if missing).")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {shown(path)} goes through {shown(existing)}, which is a file, not a folder; "
                         "choose another --out.")


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
    if args.encoders:
        args.variants = encoder_cells(args.encoders)
    check_study_flags(args, backend)
    import_quietly()
    from padzero_study.reports import folder_report
    from padzero_study.study import runner

    if args.quick and isinstance(args.encoders, AllEncoders):
        args.variants = encoder_cells(quick_encoders(backend))
    config = study_config(args, "quick" if args.quick else "full")
    enable_jax_compilation_cache()  # the runs share their shapes: each program compiles once
    out_dir = runner.run_study(config, study_out_dir(args, backend), force=args.force, verbose=1, shard=args.shard)
    # Other shards may still be running: the report holds what all results files have so far.
    written = folder_report.write_report(out_dir)
    print(f"report: {written['report_markdown']}" + (f"; encoders: {written['encoders_plot']}"
                                                     if "encoders_plot" in written else ""))


def quick_encoders(backend):
    """The encoders `--encoders all --quick` trains: on a CPU, those whose quick epoch takes seconds, saying which
    it leaves out and how to train them."""
    from padzero_study.runtime import machine
    from padzero_study.reports.study_report import format_duration

    if machine.training_device(backend)[0] != "cpu":
        return tuple(ENCODERS)
    slow = [name for name, encoder in ENCODERS.items() if not encoder.quick_on_cpu]
    if slow:
        costs = ", ".join(f"{name} ~{format_duration(ENCODERS[name].cpu_epoch_seconds)}" for name in slow)
        logger.info("--quick on a CPU leaves out %s: an epoch of the study's posts takes %s on a 2 vCPU CPU; name "
                    "them in --encoders to train them too", ", ".join(slow), costs)
    return tuple(name for name in ENCODERS if name not in slow)


def diagnose(args):
    reuse_freed_memory()
    backend = activate_backend(args.backend)
    check_study_flags(args, backend)
    import_quietly()
    from padzero_study.reports import folder_report
    from padzero_study.study import runner

    config = study_config(args, "diagnose")
    enable_jax_compilation_cache()  # the runs share their shapes: each program compiles once
    out_dir = runner.run_study(config, study_out_dir(args, backend), force=args.force, verbose=1, diagnose=True)
    written = folder_report.write_report(out_dir)
    print(f"report: {written['report_markdown']}"
          + (f"; diagnostics: {written['diagnostics_plot']}" if "diagnostics_plot" in written else ""))


def report(args):
    run_dir = Path(args.run_dir)
    if not run_dir.exists():
        raise UsageError(f"DIR {shown(run_dir)} does not exist; give the folder 'padzero reproduce' wrote (its --out).")
    if not run_dir.is_dir():
        raise UsageError(f"DIR {shown(run_dir)} is a file, not a folder; give the folder 'padzero reproduce' wrote "
                         "(its --out), and results files in it with --results.")
    for results_path in args.results or ():
        path = Path(results_path)
        if path.exists() and not path.is_file():  # a fifo or /dev/zero would block or never end
            raise UsageError(f"--results {shown(path)} is not a regular file; give the results.jsonl files "
                             "'padzero reproduce' wrote.")
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
        raise UsageError(f"--steps counts the training steps of the model and bag parts, which --parts "
                         f"{','.join(args.parts)} leaves out; drop --steps, or add model or bag to --parts.")
    if args.data:
        check_data_flag(args.data)
        check_out_outside_data(args.out, args, DATASETS["20news"])
    # The driver's own Keras only validates: named backends need no word on Keras's config file, and a Keras
    # already imported (a caller in this process) keeps its backend.
    activate_backend(backends[0] if args.backends is not None and "keras" not in sys.modules else None)
    import_quietly()
    lengths = None
    if args.data:
        from padzero_study.data import newsgroups as data
        from padzero_study.data import text

        encoded = text.encode_newsgroups(data.load_newsgroups(args.data))
        lengths = benchmarks.lengths_of(encoded.x_train)
    results = benchmarks.run_bench(args.parts, backends, quick=args.quick, lengths=lengths, steps=args.steps,
                                   repeats=args.repeats)
    benchmarks.write_results(results, args.out)
    print(benchmarks.format_table(results))
    print(f"results: {args.out}")


COMMANDS = {"reproduce": reproduce, "diagnose": diagnose, "report": report, "bench": bench}
# The loggers whose INFO lines a command prints: the runner's "padzero" (the library's loggers are below it) and
# each study module's own.
STUDY_LOGGERS = ("padzero", "padzero_study")
COMMANDS_WITHOUT_KERAS = ("report",)
# What a Ctrl-C leaves, by command.
INTERRUPTED = {"reproduce": "finished runs are kept, rerun the same command to resume",
               "diagnose": "finished runs are kept, rerun the same command to resume",
               "report": "rerun the same command to write the report (its files are replaced whole)",
               "bench": "nothing was written, rerun the same command to measure"}
# The paths each command writes to, for an OSError that no check caught.
PATH_ARGUMENTS = {"reproduce": "--out", "diagnose": "--out", "report": "DIR", "bench": "--out"}


def os_error_message(error, args):
    """One line for an OSError: what failed (strerror), the file (quoted when it holds control characters), the fix."""
    reason = error.strerror or " ".join(str(error).split()) or type(error).__name__
    argument = PATH_ARGUMENTS[args.command]
    if error.filename is None:
        return f"could not read or write a file ({reason}); check {argument}: it must be writable, with room on its disk"
    return f"could not use {shown(error.filename)} ({reason}); check {argument}: choose a path you can read and write"


def main(argv=None):
    """Runs `padzero ARGV`; returns the exit code (0, 2 for bad input, 130 when interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # The study's own progress lines are INFO; every other library's INFO (jax's "Unable to initialize backend
    # 'tpu'", scikit-learn's download notes) stays out, and anyone's warnings stay in.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for own in STUDY_LOGGERS:
        logging.getLogger(own).setLevel(logging.INFO)
    if args.command not in COMMANDS_WITHOUT_KERAS:
        # TensorFlow's INFO lines (oneDNN, CPU features) would bury a one-line error; its warnings stay. A value
        # the user set wins. Each command chooses the backend before anything imports Keras.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"padzero: interrupted; {INTERRUPTED[args.command]}", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"padzero: error: {os_error_message(error, args)}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"padzero: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
