"""The diagnostics of `padzero.diagnostics`, drawn: one row of panels, a line per (variant, seed)."""

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
