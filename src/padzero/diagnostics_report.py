"""The diagnostics of `padzero.diagnostics` as a plot (a panel per measure, a line per run) and a table."""

import json
from pathlib import Path

PANELS = (
    ("padding_gradient_share", "padding row's share of the\nembedding gradient (squared norm)"),
    ("table_gradient_norm", "norm of the embedding gradient\n(log scale)"),
    ("padding_norm", "norm of the padding vector"),
    ("pre_activation_mean", "mean hidden pre-activation\n(the ReLUs' input)"),
    ("dead_unit_fraction", "hidden ReLU units dead\non validation posts"),
    ("val_accuracy", "validation accuracy"),
)


def load_diagnostics(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def checkpoint_label(record):
    """'init', 's10' (after step 10 of epoch 1) or 'e3' (after epoch 3)."""
    if record["step"] is None:
        return f"e{record['epoch']}"
    return "init" if record["step"] == 0 else f"s{record['step']}"


def plot_diagnostics(diagnostics_path, png_path):
    """Plots every measure at every checkpoint (evenly spaced: the first epoch's steps, then epochs).

    Args:
        diagnostics_path: a `diagnostics.jsonl` written by `DiagnosticsRecorder`.
        png_path: where to write the PNG.

    Returns:
        `png_path`.
    """
    from matplotlib.figure import Figure

    records = load_diagnostics(diagnostics_path)
    # Checkpoints in training order: init, steps of epoch 1, then epochs.
    in_training_order = sorted(records, key=lambda r: (0, r["step"]) if r["step"] is not None else (1, r["epoch"]))
    labels = list(dict.fromkeys(map(checkpoint_label, in_training_order)))
    position = {label: index for index, label in enumerate(labels)}
    runs = {}
    for record in records:
        runs.setdefault((record["variant"], record["seed"]), []).append(record)
    variants = sorted({variant for variant, _ in runs})
    colours = {variant: f"C{index}" for index, variant in enumerate(variants)}
    figure = Figure(figsize=(4.2 * len(PANELS), 3.8), layout="constrained")
    axes = figure.subplots(1, len(PANELS))
    for (variant, seed), run in sorted(runs.items()):
        first_seed = seed == min(s for v, s in runs if v == variant)
        for axis, (key, _) in zip(axes, PANELS):
            points = [(position[checkpoint_label(r)], r[key]) for r in run if r.get(key) is not None]
            if key == "table_gradient_norm":  # a log axis cannot show an exact zero
                points = [(x, y) for x, y in points if y > 0]
            if points:
                axis.plot(*zip(*points), marker=".", color=colours[variant], alpha=0.8, label=variant if first_seed else None)
    for axis, (key, title) in zip(axes, PANELS):
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        axis.set_xlabel("after (s = step of epoch 1, e = epoch)", fontsize=8)
        axis.grid(alpha=0.3)
        if key == "table_gradient_norm":
            axis.set_yscale("log")
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
        # A zero padding vector has no direction (older files list arbitrary words at cosine 0 for it).
        neighbours = record["padding_nearest_words"][:3] if record["padding_norm"] > 0 else []
        words = ", ".join(f"{word} ({cosine:.2f})" for word, cosine in neighbours) or "-"
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
