"""`padzero` command line: thin argparse front ends over the library.

    padzero reproduce [--quick] [--data PATH | --dataset synthetic] [--shard K/N] [...]
    padzero diagnose [--variants ...] [--padding post] [--maxlen N] [...]
    padzero report DIR
    padzero bench [--quick] [--parts layer,model] [--backends jax,tensorflow,torch] [--data PATH]
"""

import argparse
import json
import logging
import os
import sys

from importlib.metadata import version as installed_version
from padzero_study.backends import BACKENDS, not_installed

QUICK = {"epochs": 2, "seeds": 1, "max_docs": 5_000}
FULL = {"epochs": 30, "seeds": 3, "max_docs": None}
DIAGNOSE = {"epochs": 5, "seeds": 2, "max_docs": None, "variants": "baseline,padzero,uniform_nonneg"}


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit code 2."""

    def error(self, message):
        self.exit(2, f"padzero: error: {message} (see '{self.prog} --help')\n")


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, received {text!r}")
    return value


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


def add_study_flags(parser, *, variants, defaults, quick_defaults=None):
    """The data, training and output flags that `reproduce` and `diagnose` share."""
    def default_text(key):
        quick = f"; {quick_defaults[key]:,} with --quick" if quick_defaults else ""
        return f"(default: {defaults[key] or 'all'}{quick})"

    source = parser.add_argument_group("data")
    source.add_argument("--data", metavar="PATH", help="20news-bydate.tar.gz or its extracted folder "
                        "(default: scikit-learn's data home, then scikit-learn's download)")
    source.add_argument("--dataset", choices=("20news", "synthetic"), default="20news",
                        help="'synthetic' generates a small stand-in that runs anywhere in seconds (default: 20news)")
    source.add_argument("--max-docs", type=positive_int, help=f"use a random subset of this many posts {default_text('max_docs')}")
    source.add_argument("--maxlen", type=positive_int, default=1_100, help="ids per post after padding (default: 1100)")
    source.add_argument("--padding", choices=("pre", "post"), default="pre", help="where padding goes (default: pre)")
    source.add_argument("--vocab-size", type=positive_int, default=20_000, help="most frequent words kept (default: 20000)")
    training = parser.add_argument_group("training")
    training.add_argument("--variants", default=variants, help=f"comma-separated variants, or 'all' (default: {variants}; "
                          "all = baseline,multiply,padzero,uniform_nonneg,uniform,mask_zero,masked_average; "
                          "ablations: uniform_unmasked, uniform_nonneg_unmasked = the uniform init without the mask)")
    training.add_argument("--seeds", type=positive_int, help=f"seeds per variant {default_text('seeds')}")
    training.add_argument("--epochs", type=positive_int, help="maximum epochs, early stopping on val_loss with patience 5 "
                          f"{default_text('epochs')}")
    training.add_argument("--batch-size", type=positive_int, default=32, help="batch size (default: 32)")
    training.add_argument("--backend", choices=BACKENDS, help="Keras backend (default: KERAS_BACKEND or Keras's default)")
    training.add_argument("--init-scale", type=positive_float, help="embeddings start uniform in (-S, S) for the "
                          "variants with Keras's default init (default: Keras's 0.05)")
    training.add_argument("--fast-path", action="store_true", help="train the variants whose padding embeds to zero "
                          "on batches trimmed of all-padding columns (padzero.FlattenDense; same results up to float "
                          "re-association and batch order; default: off)")
    training.add_argument("--distribute", action="store_true", help="data parallel over all local devices with "
                          "keras.distribution.DataParallel (jax backend only; default: off)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", metavar="DIR", help=f"results folder (default: runs/<dataset>[-quick]-<backend>, "
                        f"runs/diagnose-<dataset>-<backend> for diagnose)")
    output.add_argument("--force", action="store_true", help="if DIR holds results of other settings, move them "
                        "to DIR/previous-<time>/ and start over (default: refuse)")


def build_parser():
    parser = OneLineErrorParser(prog="padzero", description="Zero padding embeddings for Keras 3, and the study that shows why.")
    parser.add_argument("--version", action="version", version=f"padzero {installed_version('padzero')}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineErrorParser)

    reproduce = commands.add_parser(
        "reproduce",
        help="run the 20 Newsgroups padding study (resumable) and write its report",
        description="Trains every variant x seed, appends to OUT/results.jsonl, then writes summary.csv, "
        "report.md and learning_curves.png. Rerun the same command to resume.",
    )
    add_study_flags(reproduce, variants="all", defaults=FULL, quick_defaults=QUICK)
    reproduce.add_argument("--quick", action="store_true", help="a small real run in minutes: "
                           f"{QUICK['epochs']} epochs x {QUICK['seeds']} seed on {QUICK['max_docs']:,} posts")
    reproduce.add_argument("--shard", type=shard, metavar="K/N", help="run only the K-th of N interleaved parts of the "
                           "variant x seed grid, writing results.shard-K-of-N.jsonl; run the other parts elsewhere (same "
                           "--out or copied back) and `padzero report DIR` merges them (default: the whole grid)")

    diagnose = commands.add_parser(
        "diagnose",
        help="train chosen variants while recording why they stall or learn (diagnostics.jsonl, diagnostics.png)",
        description="Trains like 'reproduce' and also records, before training, at steps 1/3/10/30/100/300 of epoch 1 and "
        "after every epoch: the padding row's share of the embedding gradient, the padding vector's norm and nearest "
        "words, dead hidden ReLUs and their pre-activation statistics, and Dense kernel norms of padded vs real positions.",
    )
    add_study_flags(diagnose, variants=DIAGNOSE["variants"], defaults=DIAGNOSE)

    report = commands.add_parser("report", help="rebuild summary.csv, report.md and learning_curves.png from results",
                                 description="Rebuilds the report of a study folder from its results files alone.")
    report.add_argument("run_dir", metavar="DIR", help="a folder written by 'padzero reproduce'")
    report.add_argument("--results", nargs="+", metavar="FILE", help="results files to merge "
                        "(default: DIR/results.jsonl and every DIR/results.shard-K-of-N.jsonl)")

    bench = commands.add_parser(
        "bench", help="time the layer and the reference model on each backend, side by side",
        description="Times padzero.Embedding against keras.layers.Embedding and the mask x multiply workaround "
        "(forward + backward), and training steps of the reference model (Keras baseline, padzero, padzero fast "
        "path, native PyTorch), each in a fresh process, one run; prints a table of ratios and writes JSON.",
    )
    bench.add_argument("--parts", default="layer,model", help="comma-separated: layer, model (default: layer,model)")
    bench.add_argument("--backends", default="jax,tensorflow,torch", help="comma-separated Keras backends "
                       "(default: jax,tensorflow,torch)")
    bench.add_argument("--quick", action="store_true", help="20 steps x 3 repeats instead of 100 x 5: minutes, noisier")
    bench.add_argument("--data", metavar="PATH", help="draw post lengths from this 20news-bydate.tar.gz or folder "
                       "(default: synthetic lengths with the same median, ~99 tokens)")
    bench.add_argument("--steps", type=positive_int, help="training steps per timed repeat (default: 100; 20 with --quick)")
    bench.add_argument("--repeats", type=positive_int, help="timed repeats, median reported (default: 5; 3 with --quick)")
    bench.add_argument("--out", metavar="FILE", default="bench.json", help="JSON results (default: bench.json)")
    return parser


def ensure_backend(name, argv):
    """Re-runs this command under KERAS_BACKEND=name: Keras picks its backend once, at import."""
    missing = not_installed(name)
    if missing:
        raise ValueError(missing)
    import keras

    if keras.backend.backend() != name:
        os.environ["KERAS_BACKEND"] = name
        os.execv(sys.executable, [sys.executable, "-m", "padzero", *argv])


def study_config(args, defaults):
    from padzero_study import runner
    from padzero_study.variants import STUDY_VARIANTS

    variants = STUDY_VARIANTS if args.variants == "all" else tuple(v.strip() for v in args.variants.split(",") if v.strip())
    return runner.StudyConfig(
        dataset=args.dataset,
        data_path=args.data,
        variants=variants,
        seeds=args.seeds or defaults["seeds"],
        epochs=args.epochs or defaults["epochs"],
        batch_size=args.batch_size,
        maxlen=args.maxlen,
        padding=args.padding,
        vocab_size=args.vocab_size,
        max_docs=args.max_docs or defaults["max_docs"],
        embedding_init_scale=args.init_scale,
        fast_path=args.fast_path,
        distribute=args.distribute,
    )


def reproduce(args):
    from padzero_study import runner

    config = study_config(args, QUICK if args.quick else FULL)
    out_dir = args.out or os.path.join("runs", f"{config.dataset}{'-quick' if args.quick else ''}-{config.backend}")
    written = runner.run_study(config, out_dir, force=args.force, verbose=1 if sys.stdout.isatty() else 0, shard=args.shard)
    print(f"report: {written['report_markdown']}")


def diagnose(args):
    from padzero_study import runner

    config = study_config(args, DIAGNOSE)
    out_dir = args.out or os.path.join("runs", f"diagnose-{config.dataset}-{config.backend}")
    written = runner.run_study(config, out_dir, force=args.force, verbose=1 if sys.stdout.isatty() else 0, diagnose=True)
    print(f"diagnostics: {written.get('diagnostics_plot')}; report: {written['report_markdown']}")


def report(args):
    from padzero_study import diagnostics_report

    written = diagnostics_report.build_report_with_diagnostics(args.run_dir, results_paths=args.results)
    print(f"report: {written['report_markdown']}")
    if "diagnostics_table" in written:
        print(f"diagnostics: {written['diagnostics_table']}")


def bench(args):
    from padzero_study import bench as benchmarks

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    benchmarks.check_choices(parts, backends)  # before the data takes its time
    lengths = None
    if args.data:
        from padzero_study import data, text

        encoded = text.encode_newsgroups(data.load_newsgroups(args.data))
        lengths = benchmarks.lengths_of(encoded.x_train)
    results = benchmarks.run_bench(parts, backends, quick=args.quick, lengths=lengths, steps=args.steps, repeats=args.repeats)
    with open(args.out, "w") as file:
        json.dump(results, file, indent=2)
    print(benchmarks.format_table(results))
    print(f"results: {args.out}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        if getattr(args, "backend", None):
            ensure_backend(args.backend, argv)
        {"reproduce": reproduce, "diagnose": diagnose, "report": report, "bench": bench}[args.command](args)
    except KeyboardInterrupt:
        print("padzero: interrupted; finished runs are kept, rerun the same command to resume", file=sys.stderr)
        return 130
    except (ValueError, OSError) as error:
        print(f"padzero: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
