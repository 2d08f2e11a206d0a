"""The help's tables and lists: the size flags' defaults per dataset, and the registries' entries (datasets,
variants, encoders, embeddings), laid out to the terminal's width."""

import shutil
import textwrap

from padzero_study.data.datasets import DATASETS
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import ENCODERS
from padzero_study.models.variants import VARIANTS

SIZE_FLAGS = ("seeds", "epochs", "max_docs", "maxlen", "vocab_size")


def run_defaults(dataset, kind):
    """The sizes a run of `dataset` takes when no flag sets them (from the dataset registry)."""
    return DATASETS[dataset].run_defaults[kind]


def _listing(title, entries):
    """'title:' then one '  name  description' line per entry, wrapped under the description column."""
    width = max(len(name) for name, _ in entries) + 4
    lines = [f"{title}:"]
    for name, description in entries:
        lines += textwrap.wrap(
            description, help_width(), initial_indent=f"  {name:<{width - 2}}", subsequent_indent=" " * width
        )
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
        lines.append(
            "  "
            + "  ".join(
                cell.ljust(width) if column < 2 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(row, widths))
            )
        )
    return "\n".join(lines)


def study_epilog(kinds, encoders=False):
    in_study = [(name, variant.description) for name, variant in VARIANTS.items() if variant.in_study]
    ablations = [(name, variant.description) for name, variant in VARIANTS.items() if not variant.in_study]
    parts = [
        defaults_table(kinds),
        _listing("datasets (--dataset)", [(n, d.description) for n, d in DATASETS.items()]),
        _listing("variants (--variants; 'all' = these)", in_study),
    ]
    if ablations:
        parts.append(_listing("ablations (name them in --variants)", ablations))
    if encoders:
        parts.append(
            _listing(
                "encoders (--encoders; each is trained with every embedding below, then Dropout 0.3 and Dense softmax)",
                [(n, e.description) for n, e in ENCODERS.items()],
            )
        )
        parts.append(_listing("embeddings of the encoder study", [(n, e.description) for n, e in EMBEDDINGS.items()]))
    return "\n\n".join(parts)
