"""learning_curves.png: validation accuracy per epoch, a panel per variant, a line per seed."""

import math

from padzero_study import files
from padzero_study.reports.summary import distinct, grouped_runs, mean_std


def plot_learning_curves(records, path):
    """Plots validation accuracy per epoch of the complete runs to a PNG, a panel per variant.

    Each seed is a thin line, the mean over the seeds that reached an epoch a bold line, and
    the report's "at chance" threshold (2 / num_classes) a dashed line.

    Args:
        records: Records from `results.load_results`.
        path: Where to write the PNG.
    """
    # A bare Figure, not pyplot: no global backend switch, no figure left open.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    groups = grouped_runs(records)
    columns = min(4, max(1, len(groups)))
    rows = math.ceil(max(1, len(groups)) / columns)
    figure = Figure(figsize=(3.4 * columns, 2.6 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, sharey=True, squeeze=False).ravel()
    several_backends = len({backend for _, backend in groups}) > 1
    for axis, ((variant, backend), runs) in zip(axes, groups.items()):
        by_epoch = {}
        for index, run in enumerate(runs):
            axis.plot(
                run["epochs"],
                run["accuracies"],
                color="C0",
                linewidth=0.8,
                alpha=0.5,
                label="one seed" if index == 0 else None,
            )
            for epoch, accuracy in zip(run["epochs"], run["accuracies"]):
                by_epoch.setdefault(epoch, []).append(accuracy)
        axis.plot(
            sorted(by_epoch),
            [mean_std(by_epoch[e])[0] for e in sorted(by_epoch)],
            color="C0",
            linewidth=2.2,
            label="mean over seeds",
        )
        threshold = runs[0]["threshold"]
        axis.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"at chance below {threshold:.2g}")
        axis.set(title=f"{variant} ({backend})" if several_backends else variant, ylim=(0, 1))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in axes[len(groups) :]:
        axis.axis("off")
    if groups:
        axes[0].legend(fontsize="small", loc="best")
    runs = [run for group in groups.values() for run in group]
    seed_counts = sorted({len(group) for group in groups.values()}) or [0]
    seeds = f"{seed_counts[0]}" + (f"–{seed_counts[-1]}" if len(seed_counts) > 1 else "")
    figure.supxlabel("epoch")
    figure.supylabel("validation accuracy")
    figure.suptitle(
        "Validation accuracy per epoch — dataset "
        f"{distinct(run['config'].get('dataset') for run in runs)}, backend "
        f"{distinct(backend for _, backend in groups)}, "
        f"{seeds} seed(s) per variant"
    )
    with files.replacing_file(path, "wb") as file:
        figure.savefig(file, format="png", dpi=100)
