"""The encoder study's report: encoder x embedding, epoch-1 and best validation accuracy with the seeds' spread.

`build_encoders_report(run_dir)` writes the study's usual report (summary.csv,
learning_curves.png, report.md), with an "Encoders" section at the end of
report.md, and encoders.png: one panel per encoder, each embedding's epoch-1
and best validation accuracy, every seed a dot. For each encoder the section
says whether a trainable padding vector (Keras's plain `Embedding`) changes
either number beyond the seeds' spread, and which embedding choice fixes it.
"""

import math
import statistics
from pathlib import Path

from padzero_study import files, results, values, wording
from padzero_study.files import FileError
from padzero_study.models.embeddings import EMBEDDINGS
from padzero_study.models.encoders import ENCODERS
from padzero_study.models.variants import cell_name, get_variant
from padzero_study.reports import study_report as report

# The trainable padding vector with nothing to hide it, and the same model with the vector at zero.
PLAIN, ZERO = "keras", "padzero"
MEASURES = (("epoch1", "epoch-1 val acc"), ("best", "best val acc"))


def is_encoder_study(records):
    """True when the records hold encoder study cells ("cnn/padzero"), whose report this module writes."""
    return any(getattr(get_variant(record["variant"]), "embedding", None) for record in records)


def cell_runs(records):
    """{(encoder, padding): {embedding: [per-seed numbers]}} of the finished cells, in registry order.

    Per seed: `epoch1`, `best` (validation accuracy), `seconds` (per epoch), `seed`.
    """
    cells = {}
    for (variant, _backend), runs in report.grouped_runs(records).items():
        cell = get_variant(variant)
        if cell is None or cell.embedding is None:
            continue
        cells.setdefault((cell.encoder, cell.padding), {}).setdefault(cell.embedding, []).extend(runs)
    encoder_rank = {name: index for index, name in enumerate(ENCODERS)}
    ordered = sorted(cells, key=lambda key: (encoder_rank.get(key[0], len(encoder_rank)), key[1] != "pre", key))
    return {key: {name: cells[key][name] for name in EMBEDDINGS if name in cells[key]} for key in ordered}


def _values(runs, measure):
    return [run[measure] for run in runs if not math.isnan(run[measure])]


def _spread_text(values):
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:.3f}" if len(values) == 1 else f"{mean:.3f} ({min(values):.3f}–{max(values):.3f})"


def _row_label(encoder, padding):
    return encoder + (" (post-padding)" if padding == "post" else "")


def separated(lower, upper):
    """True when every value of `upper` is above every value of `lower`: apart beyond the seeds' spread.

    Needs two values a side: one seed has no spread to judge against.

    >>> separated([0.05, 0.06], [0.70, 0.81]), separated([0.05, 0.75], [0.70, 0.81]), separated([0.05], [0.8])
    (True, False, False)
    """
    return len(lower) >= 2 and len(upper) >= 2 and max(lower) < min(upper)


def encoder_finding(encoder, padding, by_embedding):
    """One sentence per encoder: does the trainable padding vector change epoch-1 and best accuracy beyond the
    seeds' spread, and which embedding choices are above every seed of the plain one."""
    label = _row_label(encoder, padding)
    mask_note = "" if ENCODERS[encoder].uses_mask else f" {encoder} drops the mask, so mask_zero changes nothing."
    if PLAIN not in by_embedding or ZERO not in by_embedding:
        return f"- **{label}**: needs finished runs of both `{PLAIN}` and `{ZERO}` to compare.{mask_note}"
    seeds = min(len(runs) for runs in by_embedding.values())
    if seeds < 2:
        return f"- **{label}**: one seed per embedding, no spread to judge a difference against; run more seeds."
    parts = []
    for measure, name in MEASURES:
        plain, zero = _values(by_embedding[PLAIN], measure), _values(by_embedding[ZERO], measure)
        if separated(plain, zero) or separated(zero, plain):
            better = [
                choice
                for choice, runs in by_embedding.items()
                if choice != PLAIN and separated(plain, _values(runs, measure))
            ]
            direction = "lowers" if separated(plain, zero) else "raises"
            fixed = (
                f"fixed by {', '.join(f'`{choice}`' for choice in better)}"
                if better and direction == "lowers"
                else "no choice is above every seed of it"
                if direction == "lowers"
                else ""
            )
            parts.append(
                f"it {direction} {name} beyond the seeds' spread ({_spread_text(plain)} against "
                f"{_spread_text(zero)} with zero padding){'; ' + fixed if fixed else ''}"
            )
        else:
            parts.append(
                f"{name} stays within the seeds' spread ({_spread_text(plain)} against "
                f"{_spread_text(zero)} with zero padding)"
            )
    return f"- **{label}**: a trainable padding vector (`{PLAIN}`): {'; '.join(parts)}.{mask_note}" + _mask_finding(
        encoder, by_embedding
    )


def waiting_encoders(records, reported, seeds=None):
    """A line per registered encoder with no finished run: waiting, and what its runs would cost on a CPU.

    `seeds` is the study's (its config.json); without it, the most seeds a finished cell has, else 3.
    """
    ends = [record for record in records if record["record"] == "run_end"]
    seeds = seeds or max(
        (len({r["seed"] for r in ends if r["variant"] == variant}) for variant in {r["variant"] for r in ends}),
        default=3,
    )
    epochs = statistics.fmean([r["epochs_run"] for r in ends]) if ends else 10.0
    lines = []
    for name, encoder in ENCODERS.items():
        if name in reported:
            continue
        runs = len(EMBEDDINGS) * len(encoder.paddings) * seeds
        hours = runs * epochs * encoder.cpu_epoch_seconds / 3600
        lines.append(
            f"- **{name}**: waiting: no finished run yet. Its {runs} runs at ~{epochs:.0f} epochs each "
            f"would take about {hours:,.0f} h on a 2 vCPU CPU (~{wording.format_duration(encoder.cpu_epoch_seconds)} "
            "an epoch, docs/encoders/cpu-timing): a GPU's work."
        )
    return lines


def _mask_finding(encoder, by_embedding):
    """For an encoder that reads the mask: what the mask adds to zero padding, beyond the seeds' spread or not."""
    masked = f"{ZERO}_mask"
    if not ENCODERS[encoder].uses_mask or ZERO not in by_embedding or masked not in by_embedding:
        return ""
    changes = []
    for measure, name in MEASURES:
        zero, with_mask = _values(by_embedding[ZERO], measure), _values(by_embedding[masked], measure)
        if separated(zero, with_mask) or separated(with_mask, zero):
            direction = "raises" if separated(zero, with_mask) else "lowers"
            changes.append(f"{direction} {name} to {_spread_text(with_mask)}")
    return (
        f" The mask (`{masked}` against `{ZERO}`) {' and '.join(changes)}, beyond the seeds' spread."
        if changes
        else f" The mask (`{masked}` against `{ZERO}`) stays within the seeds' spread."
    )


def encoders_markdown(records, folder, plot_name=results.ENCODERS_PLOT_FILE):
    """The "Encoders" section of report.md: the grid table, seconds per epoch, the device (from the `StudyFolder`
    `folder`'s config), and a finding per encoder."""
    cells = cell_runs(records)
    steady = steady_epoch_seconds(records)
    choices = [name for name in EMBEDDINGS if any(name in row for row in cells.values())]
    lines = [
        "## Encoders: does padding hurt other models?",
        "",
        "Validation accuracy at epoch 1 / best epoch, mean over seeds (lowest–highest seed); s / epoch: the "
        "mean of the row's epochs after the first (which also compiles). Embeddings: "
        + "; ".join(f"`{name}`: {EMBEDDINGS[name].description}" for name in choices)
        + ".",
        "",
        "| encoder | mask | " + " | ".join(f"`{name}` epoch 1 / best" for name in choices) + " | s / epoch |",
        "|---|---|" + "---|" * len(choices) + "---:|",
    ]
    for (encoder, padding), by_embedding in cells.items():
        row = [_row_label(encoder, padding), "uses it" if ENCODERS[encoder].uses_mask else "drops it"]
        for name in choices:
            runs = by_embedding.get(name, [])
            row.append(
                f"{_spread_text(_values(runs, 'epoch1'))} / {_spread_text(_values(runs, 'best'))}"
                if runs
                else "not run"
            )
        variants = [cell_name(encoder, embedding, padding) for embedding in by_embedding]
        seconds = [steady[variant] for variant in variants if variant in steady]
        row.append(f"{statistics.fmean(seconds):.1f}" if seconds else "–")
        lines.append("| " + " | ".join(row) + " |")
    ends = [record for record in records if record["record"] == "run_end"]
    train_seconds = sum(record.get("train_seconds", 0) for record in ends)
    config = _study_config(folder)  # the device and the study's seeds
    device = _entry(config, "device", str)
    lines += [
        "",
        f"Training time of the {len(ends)} finished runs: {wording.format_duration(train_seconds)}"
        + (f", on {device}." if device else "."),
        "",
        'What it shows, per encoder ("beyond the seeds\' spread": every seed of one above every seed of the other):',
        "",
    ]
    lines += [encoder_finding(encoder, padding, by_embedding) for (encoder, padding), by_embedding in cells.items()]
    lines += waiting_encoders(records, {encoder for encoder, _ in cells}, _entry(config, "seeds", int))
    lines += ["", f"![Epoch-1 and best validation accuracy per encoder and embedding]({plot_name})", ""]
    return "\n".join(lines)


def steady_epoch_seconds(records):
    """{variant: mean seconds of its finished runs' epochs after the first}, or of the first where a run has
    only one: the first epoch also compiles the model's programs."""
    finished = {(r["variant"], r["backend"], r["seed"]) for r in records if r["record"] == "run_end"}
    by_run = {}
    for record in records:
        key = (record["variant"], record["backend"], record["seed"])
        if record["record"] == "epoch" and key in finished and "epoch_seconds" in record:
            by_run.setdefault(key, {})[record["epoch"]] = record["epoch_seconds"]
    by_variant = {}
    for (variant, _, _), seconds in by_run.items():
        by_variant.setdefault(variant, []).append(report.epoch_seconds_after_compile(seconds))
    return {variant: statistics.fmean(values) for variant, values in by_variant.items()}


def _study_config(folder):
    """The folder's `config.json` as a dict; empty where there is none or it cannot be read."""
    try:
        return folder.config or {}
    except FileError:
        return {}


def _entry(config, key, kind):
    """`config[key]` where it holds a `kind` (a bool is no int), else None."""
    value = config.get(key)
    return value if (values.is_int(value) if kind is int else isinstance(value, kind)) else None


def plot_encoders(records, path):
    """encoders.png: a panel per encoder, each embedding's epoch-1 and best validation accuracy, a dot per seed."""
    # A bare Figure, not pyplot, as every report here: no global backend switch, no figure left open.
    from matplotlib.figure import Figure

    cells = cell_runs(records)
    columns = min(len(cells), 3) or 1
    rows = math.ceil(len(cells) / columns) or 1
    figure = Figure(figsize=(4.2 * columns, 3.2 * rows))
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True)
    for axis, ((encoder, padding), by_embedding) in zip(axes.flat, cells.items()):
        names = list(by_embedding)
        for offset, (measure, label), color in zip((-0.15, 0.15), MEASURES, ("tab:orange", "tab:blue")):
            for position, name in enumerate(names):
                values = _values(by_embedding[name], measure)
                if not values:
                    continue
                axis.scatter([position + offset] * len(values), values, s=12, color=color, alpha=0.6)
                axis.errorbar(
                    position + offset,
                    statistics.fmean(values),
                    yerr=[[statistics.fmean(values) - min(values)], [max(values) - statistics.fmean(values)]],
                    fmt="_",
                    color=color,
                    markersize=14,
                    capsize=3,
                    label=label if position == 0 else None,
                )
        axis.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
        axis.set_title(_row_label(encoder, padding), fontsize=10)
        axis.set_ylim(0, 1)
        axis.grid(axis="y", alpha=0.3)
    for axis in list(axes.flat)[len(cells) :]:
        axis.set_visible(False)
    axes.flat[0].set_ylabel("validation accuracy")
    axes.flat[0].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    with files.replacing_file(path, "wb") as file:
        figure.savefig(file, format="png", dpi=110)
    return Path(path)


def build_encoders_report(run_dir, results_paths=None):
    """`padzero_study.reports.study_report.build_report` with the "Encoders" section, and encoders.png.

    Args:
        run_dir: the encoder study's folder, or its `StudyFolder` (read once, handed down).
        results_paths: results files to merge; default the folder's own.

    Returns:
        The paths written: `build_report`'s and `encoders_plot`.
    """
    folder = results.as_folder(run_dir, results_paths)
    records = folder.records_to_report()
    written = report.build_report(folder, appendix=encoders_markdown(records, folder))
    return {**written, "encoders_plot": plot_encoders(records, folder.path / results.ENCODERS_PLOT_FILE)}
