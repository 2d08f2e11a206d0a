"""The `padzero` command's arguments: argparse parsers and argument types (text -> value); the help's tables are `help.py`'s.

What values are allowed is the settings' to say (`padzero_study.study.settings`), checked once the command has
built them; a type here only turns text into a value. Keras-free: `--help` imports no backend.
"""

import argparse
import textwrap
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version

from padzero_study import reference
from padzero_study.cli.help import help_width, run_defaults, study_epilog
from padzero_study.data.datasets import DATASETS
from padzero_study.models.encoders import ENCODERS
from padzero_study.models.padding_variants import MAX_INIT_SCALE
from padzero_study.models.variants import study_variants
from padzero_study.runtime.backends import BACKENDS, PREFERENCE
from padzero_study.values import PADDING_SIDES

DIAGNOSE_VARIANTS = "baseline,padzero,uniform_nonneg"


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


def integer(text):
    """Text -> int, for the size flags."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, received {text!r}") from None


def number(text):
    """Text -> float, for --init-scale."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, received {text!r}") from None


def non_empty(text):
    """Text that is not empty or blank, for paths and lists: '' would otherwise mean 'the default' silently."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, received {text!r}")
    return text


def variant_names(text):
    """'a,b' -> ('a', 'b'); 'all' -> the study's variants. Unknown names are refused by the settings."""
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
        raise argparse.ArgumentTypeError(
            f"unknown encoder{'s' * (len(unknown) > 1)} {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(ENCODERS)}, or 'all'"
        )
    return names


def comma_list(text):
    """'a, b' -> ['a', 'b'] (names are checked by the bench)."""
    return [item.strip() for item in non_empty(text).split(",") if item.strip()]


def shard(text):
    """'K/N' -> (K, N), for --shard."""
    index, slash, count = text.partition("/")
    try:
        if slash:
            return int(index), int(count)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected K/N, such as 2/4; received {text!r}")


# ---------------------------------------------------------------- help


def add_study_flags(parser, *, variants, encoders=False):
    """The data, training and output flags that `reproduce` and `diagnose` share."""
    source = parser.add_argument_group("data")
    source.add_argument(
        "--data",
        type=non_empty,
        metavar="PATH",
        help="20news-bydate.tar.gz or its extracted folder "
        "(default: scikit-learn's data home, then scikit-learn's download)",
    )
    source.add_argument(
        "--dataset",
        choices=tuple(DATASETS),
        default="20news",
        help="which posts; 'synthetic' is a generated stand-in with small default sizes, for a smoke "
        "test (default: 20news; see the lists below)",
    )
    source.add_argument(
        "--max-docs",
        type=integer,
        metavar="N",
        help="use a random subset of N posts (synthetic: generate N) (default: see below)",
    )
    source.add_argument("--maxlen", type=integer, metavar="N", help="ids per post after padding (default: see below)")
    source.add_argument("--padding", choices=PADDING_SIDES, default="pre", help="where padding goes (default: pre)")
    source.add_argument("--vocab-size", type=integer, metavar="N", help="most frequent words kept (default: see below)")
    training = parser.add_argument_group("training")
    models = training.add_mutually_exclusive_group()
    models.add_argument(
        "--variants",
        type=variant_names,
        default=variants,
        metavar="NAMES",
        help=f"comma-separated variants, or 'all' (default: {variants}; see the lists below)",
    )
    if encoders:
        models.add_argument(
            "--encoders",
            type=encoder_names,
            metavar="NAMES",
            help="the encoder study instead: "
            "each encoder, comma-separated or 'all', with each of the four embeddings of the lists "
            "below (the LSTM with pre- and post-padding), into runs/encoders-<dataset>[-quick]-"
            "<backend> (default: the padding study's --variants)",
        )
    training.add_argument("--seeds", type=integer, metavar="N", help="seeds per variant (default: see below)")
    training.add_argument(
        "--epochs",
        type=integer,
        metavar="N",
        help=f"maximum epochs, early stopping on val_loss with patience {reference.PATIENCE} (default: see below)",
    )
    training.add_argument(
        "--batch-size",
        type=integer,
        default=reference.BATCH_SIZE,
        metavar="N",
        help=f"batch size (default: {reference.BATCH_SIZE})",
    )
    training.add_argument(
        "--backend",
        choices=BACKENDS,
        help="Keras backend (default: KERAS_BACKEND, else the one "
        f"in Keras's config file if installed, else the first installed of {', '.join(PREFERENCE)})",
    )
    training.add_argument(
        "--init-scale",
        type=number,
        metavar="S",
        help="embeddings start uniform in (-S, S) "
        f"for the variants with Keras's default init; 0 < S <= {MAX_INIT_SCALE:g} (default: Keras's 0.05)",
    )
    training.add_argument(
        "--distribute",
        action="store_true",
        help="data parallel over all local devices with "
        "keras.distribution.DataParallel (jax backend only; default: off)",
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--out",
        type=non_empty,
        metavar="DIR",
        help="results folder, outside the --data folder "
        "(default: runs/<dataset>[-quick]-<backend>, runs/diagnose-<dataset>-<backend> for diagnose)",
    )
    output.add_argument(
        "--force",
        action="store_true",
        help="if DIR holds results of other settings, move them "
        "to DIR/previous-<time>/ and start over (default: refuse)",
    )


def package_version():
    try:
        return installed_version("padzero")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


def build_parser():
    parser = OneLineErrorParser(
        prog="padzero", description="Zero padding embeddings for Keras 3, and the study that shows why."
    )
    parser.add_argument("--version", action="version", version=f"padzero {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)
    raw = argparse.RawDescriptionHelpFormatter  # keeps the epilog's tables and lists as laid out

    quick = run_defaults("20news", "quick")
    reproduce = commands.add_parser(
        "reproduce",
        formatter_class=raw,
        help="run the 20 Newsgroups padding study (resumable) and write its report",
        description=textwrap.fill(
            "Trains every variant x seed, appends to OUT/results.jsonl, then writes "
            "summary.csv, report.md and learning_curves.png. Rerun the same command to resume.",
            help_width(),
        ),
        epilog=study_epilog((("full", "full"), ("quick", "--quick")), encoders=True),
    )
    add_study_flags(reproduce, variants="all", encoders=True)
    # diagnose has no such flags: its measures read the plain layers' inputs.
    path = reproduce.add_mutually_exclusive_group()
    path.add_argument(
        "--fast-path",
        dest="fast_path",
        action="store_true",
        default=None,
        help="train Embedding -> "
        "Flatten -> Dense as one padzero.EmbeddingFlattenDense: the same function and gradients, with "
        "work only where posts hold real tokens (default: on with jax on a CPU, where it is faster; off "
        "on a GPU and with tensorflow and torch, where it measured slower)",
    )
    path.add_argument("--plain", dest="fast_path", action="store_false", help="train the three plain layers")
    reproduce.add_argument(
        "--quick",
        action="store_true",
        help=f"a small real run: {quick['epochs']} epochs x "
        f"{quick['seeds']} seed on {quick['max_docs']:,} posts (synthetic is small either way)",
    )
    reproduce.add_argument(
        "--shard",
        type=shard,
        metavar="K/N",
        help="run only the K-th of N interleaved parts of the "
        "variant x seed grid, writing results.shard-K-of-N.jsonl; run the other parts elsewhere (same "
        "--out or copied back) and `padzero report DIR` merges them (default: the whole grid)",
    )

    diagnose = commands.add_parser(
        "diagnose",
        formatter_class=raw,
        help="train chosen variants while recording why they stall or learn (diagnostics.jsonl, diagnostics.png)",
        description=textwrap.fill(
            "Trains like 'reproduce' and also records, before training, at steps 1/3/10/30/100/300 of epoch 1 and "
            "after every epoch: the padding row's share of the embedding gradient, the padding vector's norm and "
            "nearest words, dead hidden ReLUs and their pre-activation statistics, and Dense kernel norms of padded "
            "vs real positions.",
            help_width(),
        ),
        epilog=study_epilog((("diagnose", "diagnose"),)),
    )
    add_study_flags(diagnose, variants=DIAGNOSE_VARIANTS)

    report = commands.add_parser(
        "report",
        help="rebuild summary.csv, report.md and learning_curves.png from results",
        description="Rebuilds the report of a study folder from its results files alone.",
    )
    report.add_argument("run_dir", type=non_empty, metavar="DIR", help="a folder written by 'padzero reproduce'")
    report.add_argument(
        "--results",
        type=non_empty,
        nargs="+",
        metavar="FILE",
        help="results files to merge (default: DIR/results.jsonl and every DIR/results.shard-K-of-N.jsonl)",
    )

    bench = commands.add_parser(
        "bench",
        help="time the layer and the reference model on each backend, side by side",
        description="Times padzero.Embedding against keras.layers.Embedding and the mask x multiply workaround "
        "(forward + backward), training steps of the reference model (Keras baseline, padzero, padzero fast "
        "path, the fast path on padding-only batches as the floor of any pad-skipping step on JAX, native "
        "PyTorch), and with --parts bag the average model's padzero.EmbeddingBag(mean) against Keras's "
        "Embedding(mask_zero=True) -> GlobalAveragePooling1D and PyTorch's nn.EmbeddingBag (the layer's forward + "
        "backward and the model's training step), each in a fresh process, one run; prints tables of ratios and "
        "writes JSON.",
    )
    bench.add_argument(
        "--parts",
        type=comma_list,
        default="layer,model",
        help="comma-separated: layer, model, bag (the average model's bag layer) (default: layer,model)",
    )
    bench.add_argument(
        "--backends",
        type=comma_list,
        help=f"comma-separated Keras backends among {','.join(BACKENDS)} (default: every one installed)",
    )
    bench.add_argument("--quick", action="store_true", help="20 steps x 3 repeats instead of 100 x 5 (noisier)")
    bench.add_argument(
        "--data",
        type=non_empty,
        metavar="PATH",
        help="draw post lengths from this "
        "20news-bydate.tar.gz or folder (default: synthetic lengths shaped like the real posts')",
    )
    bench.add_argument(
        "--steps",
        type=integer,
        metavar="N",
        help="training steps per timed repeat of the model and bag parts (default: 100; 20 with --quick)",
    )
    bench.add_argument(
        "--repeats", type=integer, metavar="N", help="timed repeats, median reported (default: 5; 3 with --quick)"
    )
    bench.add_argument(
        "--out",
        type=non_empty,
        metavar="FILE",
        default="bench.json",
        help="JSON results, written once every measurement is done, outside the --data folder (default: bench.json)",
    )
    parser.command_parsers = {"reproduce": reproduce, "diagnose": diagnose, "report": report, "bench": bench}
    return parser
