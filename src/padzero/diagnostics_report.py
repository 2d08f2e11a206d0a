"""The diagnostics of `padzero.diagnostics` as a plot (a panel per measure, a line per run) and a table."""

import json
from pathlib import Path

PANELS = (
    ("padding_gradient_share", "padding row's share of the\nembedding gradient (squared norm)"),
    ("table_gradient_norm", "norm of the embedding gradient\n(0 = nothing learns)"),
    ("padding_norm", "norm of the padding vector"),
    ("dead_unit_fraction", "hidden ReLU units dead\non validation posts"),
    ("val_accuracy", "validation accuracy"),
)


def load_diagnostics(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_diagnostics(diagnostics_path, png_path):
    """Plots every measure against training progress (epochs; the first epoch's steps as fractions of it).

    Args:
        diagnostics_path: a `diagnostics.jsonl` written by `DiagnosticsRecorder`.
        png_path: where to write the PNG.

    Returns:
        `png_path`.
    """
    from matplotlib.figure import Figure

    records = load_diagnostics(diagnostics_path)
    runs = {}
    for record in records:
        runs.setdefault((record["variant"], record["seed"]), []).append(record)
    steps_in_epoch_one = max((r["step"] for r in records if r["step"] is not None), default=1) or 1
    variants = sorted({variant for variant, _ in runs})
    colours = {variant: f"C{index}" for index, variant in enumerate(variants)}
    figure = Figure(figsize=(4.2 * len(PANELS), 3.6), layout="constrained")
    axes = figure.subplots(1, len(PANELS))
    for (variant, seed), run in sorted(runs.items()):
        # Within epoch 1, x is the share of its steps seen so far (a rough scale: the last recorded step = 1).
        x = [r["epoch"] if r["step"] is None else r["step"] / steps_in_epoch_one for r in run]
        for axis, (key, _) in zip(axes, PANELS):
            points = [(xi, r[key]) for xi, r in zip(x, run) if r.get(key) is not None]
            if points:
                axis.plot(*zip(*points), marker=".", color=colours[variant], alpha=0.8,
                          label=variant if seed == min(s for v, s in runs if v == variant) else None)
    for axis, (key, title) in zip(axes, PANELS):
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.savefig(png_path, dpi=110)
    return png_path


def _number(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def write_diagnostics_table(diagnostics_path, markdown_path):
    """A Markdown table with a row per recorded checkpoint of every (variant, seed); returns `markdown_path`."""
    lines = [
        "| variant | seed | after | padding share of embedding gradient | embedding gradient norm "
        "| padding norm (mean word norm) | dead ReLUs | pre-activation mean ± std | val accuracy | padding's nearest words |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for record in load_diagnostics(diagnostics_path):
        after = f"step {record['step']}" if record["step"] is not None else f"epoch {record['epoch']}"
        words = ", ".join(f"{word} ({cosine:.2f})" for word, cosine in record["padding_nearest_words"][:3])
        lines.append(
            f"| {record['variant']} | {record['seed']} | {after} | {_number(record['padding_gradient_share'])} "
            f"| {_number(record.get('table_gradient_norm'), 4)} | {_number(record['padding_norm'], 2)} "
            f"({_number(record['word_norm_mean'], 2)}) | {_number(record['dead_unit_fraction'], 2)} "
            f"| {_number(record['pre_activation_mean'], 2)} ± {_number(record['pre_activation_std'], 2)} "
            f"| {_number(record.get('val_accuracy'))} | {words} |"
        )
    Path(markdown_path).write_text("\n".join(lines) + "\n")
    return markdown_path


def build_diagnostics_report(run_dir):
    """Writes `diagnostics.png` and `diagnostics.md` from `run_dir/diagnostics.jsonl`; returns their paths ({} without it)."""
    source = Path(run_dir) / "diagnostics.jsonl"
    if not source.exists():
        return {}
    return {
        "diagnostics_plot": plot_diagnostics(source, Path(run_dir) / "diagnostics.png"),
        "diagnostics_table": write_diagnostics_table(source, Path(run_dir) / "diagnostics.md"),
    }
