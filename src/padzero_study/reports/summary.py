"""A study's numbers per variant: its runs grouped, summarized (epoch-1 and best validation accuracy, epochs at
chance, seconds per epoch) and written as summary.csv, and two studies compared variant by variant."""

import csv
import math
import statistics

from padzero_study import files
from padzero_study.data.datasets import DATASETS
from padzero_study.models.variants import VARIANTS
from padzero_study.wording import format_number

SUMMARY_COLUMNS = (
    "variant",
    "backend",
    "seeds",
    "epoch1_val_accuracy_mean",
    "epoch1_val_accuracy_std",
    "best_val_accuracy_mean",
    "best_val_accuracy_std",
    "best_epoch_mean",
    "epochs_at_chance_mean",
    "seeds_at_chance_at_epoch1",
    "seeds_above_chance_at_epoch1",
    "seeds_never_left_chance",
    "seeds_diverged",
    "seconds_per_epoch_mean",
    "epochs_run_mean",
    "chance_threshold",
)


def split_runs(records):
    """Epoch records per (variant, backend, seed), split into (complete, interrupted) by whether
    a run_end exists, and the run_end records themselves."""
    run_key = lambda r: (r["variant"], r["backend"], r["seed"])  # noqa: E731
    ends = {run_key(r): r for r in records if r["record"] == "run_end"}
    complete, interrupted = {}, {}
    for r in records:
        if r["record"] == "epoch":
            (complete if run_key(r) in ends else interrupted).setdefault(run_key(r), []).append(r)
    return complete, interrupted, ends


def _num_classes(config):
    """The run's number of classes: recorded in its config, else its dataset's (20 for files that say neither)."""
    if "num_classes" in config:
        return config["num_classes"]
    dataset = DATASETS.get(config.get("dataset"))
    return dataset.num_classes if dataset is not None else 20


def grouped_runs(records, chance_threshold=None):
    """Complete runs and their per-seed numbers, grouped by (variant, backend) in registry order.

    A NaN validation accuracy means the run diverged: such epochs count
    neither as at chance nor as learning, and the run is marked diverged.
    """
    complete, _, ends = split_runs(records)
    groups = {}
    for key, epochs in complete.items():
        epochs.sort(key=lambda r: r["epoch"])
        config = ends[key].get("config") or {}
        num_classes = _num_classes(config)
        # Twice chance: a model that learned anything is far above 1 / num_classes, while one
        # stuck on the padding hovers at it (≈ 0.05 for 20 classes) with some noise.
        threshold = 2 / num_classes if chance_threshold is None else chance_threshold
        accuracies = [r["val_accuracy"] for r in epochs]
        finite = [accuracy for accuracy in accuracies if not math.isnan(accuracy)]
        best = max(finite) if finite else math.nan
        groups.setdefault(key[:2], []).append(
            {
                "seed": key[2],
                "config": config,
                "num_classes": num_classes,
                "threshold": threshold,
                "epochs": [r["epoch"] for r in epochs],
                "accuracies": accuracies,
                "epoch1": next((r["val_accuracy"] for r in epochs if r["epoch"] == 1), math.nan),
                "best": best,
                "best_epoch": epochs[accuracies.index(best)]["epoch"] if finite else math.nan,  # the first best
                "at_chance": sum(accuracy < threshold for accuracy in finite),
                "diverged": len(finite) < len(accuracies),
                "seconds": epoch_seconds_after_compile({r["epoch"]: r.get("epoch_seconds", math.nan) for r in epochs}),
                "epochs_run": ends[key]["epochs_run"],
            }
        )
    rank = {variant: index for index, variant in enumerate(VARIANTS)}
    order = sorted(groups, key=lambda key: (rank.get(key[0], len(rank)), key))
    return {key: groups[key] for key in order}


def epoch_seconds_after_compile(seconds_by_epoch):
    """The mean seconds of a run's epochs after the first, or of the first where it is the only one: the first
    epoch also compiles the model's programs (17 s against 6.5 s in a quick run), which is no training speed.

    Example:

    >>> epoch_seconds_after_compile({1: 17.3, 2: 6.4, 3: 6.6}), epoch_seconds_after_compile({1: 17.3})
    (6.5, 17.3)
    """
    later = [seconds for epoch, seconds in seconds_by_epoch.items() if epoch > 1]
    return statistics.fmean(later or seconds_by_epoch.values())


def mean_std(values):
    # Sample std (ddof=1); NaN for one seed, where 0 would wrongly read as "no spread".
    values = [value for value in values if not math.isnan(value)]
    mean = statistics.fmean(values) if values else math.nan
    return mean, (statistics.stdev(values) if len(values) > 1 else math.nan)


def summarize(records, chance_threshold=None):
    """Summarizes complete runs over seeds, one row per (variant, backend).

    Args:
        records: Records from `results.load_results`. Epochs of runs without a `run_end` are
            ignored. A NaN validation accuracy (a diverged run) counts neither as at chance nor
            as above it; `seeds_diverged` counts such runs.
        chance_threshold: Float in (0, 1) or `None`. Validation accuracy below it counts as "at
            chance". `None` uses 2 / `num_classes` of each run's config (default 20 → 0.10).

    Returns:
        A list of dicts with keys `SUMMARY_COLUMNS`. Stds use ddof=1 and are NaN for one seed.
    """
    if chance_threshold is not None and not 0 < chance_threshold < 1:
        raise ValueError(f"chance_threshold must be in (0, 1) or None; received chance_threshold={chance_threshold!r}.")
    rows = []
    for (variant, backend), runs in grouped_runs(records, chance_threshold).items():
        epoch1_mean, epoch1_std = mean_std([run["epoch1"] for run in runs])
        best_mean, best_std = mean_std([run["best"] for run in runs])
        mean_of = lambda field, runs=runs: mean_std([run[field] for run in runs])[0]
        rows.append(
            {
                "variant": variant,
                "backend": backend,
                "seeds": len(runs),
                "epoch1_val_accuracy_mean": epoch1_mean,
                "epoch1_val_accuracy_std": epoch1_std,
                "best_val_accuracy_mean": best_mean,
                "best_val_accuracy_std": best_std,
                "best_epoch_mean": mean_of("best_epoch"),
                "epochs_at_chance_mean": mean_of("at_chance"),
                "seeds_at_chance_at_epoch1": sum(run["epoch1"] < run["threshold"] for run in runs),
                "seeds_above_chance_at_epoch1": sum(run["epoch1"] >= run["threshold"] for run in runs),
                "seeds_never_left_chance": sum(
                    not run["diverged"] and run["at_chance"] == len(run["epochs"]) for run in runs
                ),
                "seeds_diverged": sum(run["diverged"] for run in runs),
                "seconds_per_epoch_mean": mean_of("seconds"),
                "epochs_run_mean": mean_of("epochs_run"),
                "chance_threshold": runs[0]["threshold"],
            }
        )
    return rows


def write_summary_csv(summary, path):
    """Writes `summarize` rows to `path` as CSV, with `SUMMARY_COLUMNS` as the header."""
    with files.replacing_file(path) as file:  # never written through a link at `path`
        writer = csv.DictWriter(file, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(summary)


def compare_studies(reference_records, records):
    """The same runs of two studies side by side, e.g. the plain path's (reference) and the fast path's.

    Args:
        reference_records, records: records from `results.load_results`; runs without a
            `run_end` are ignored, and only (variant, backend, seed) finished in both are compared.

    Returns:
        One dict per run, in registry order: `variant`, `backend`, `seed`, then `epoch1`, `best` and
        `epochs_run` of `records` and, as `reference_epoch1` ..., of `reference_records`, and
        `reference_best_low` / `reference_best_high`: the lowest and highest best of the reference's
        seeds of that variant (the seeds' spread).
    """
    reference = grouped_runs(reference_records)
    rows = []
    for key, runs in grouped_runs(records).items():
        reference_runs = {run["seed"]: run for run in reference.get(key, [])}
        spread = [run["best"] for run in reference_runs.values()]
        for run in sorted(runs, key=lambda run: run["seed"]):
            matched = reference_runs.get(run["seed"])
            if matched is None:
                continue
            rows.append(
                {
                    "variant": key[0],
                    "backend": key[1],
                    "seed": run["seed"],
                    "epoch1": run["epoch1"],
                    "best": run["best"],
                    "epochs_run": run["epochs_run"],
                    "reference_epoch1": matched["epoch1"],
                    "reference_best": matched["best"],
                    "reference_epochs_run": matched["epochs_run"],
                    "reference_best_low": min(spread),
                    "reference_best_high": max(spread),
                }
            )
    return rows


def format_comparison(rows, names=("reference", "compared")):
    """A Markdown table of `compare_studies` rows; `names` label the two studies' columns."""
    first, second = names
    lines = [
        f"| variant | seed | epoch-1 val acc: {first} / {second} (difference) | best val acc: {first} / "
        f"{second} | {first} seeds' best: lowest–highest | epochs run: {first} / {second} |",
        "|---|---:|---|---|---|---|",
    ]
    for row in rows:
        difference = row["epoch1"] - row["reference_epoch1"]
        lines.append(
            f"| {row['variant']} | {row['seed']} | {format_number(row['reference_epoch1'])} / "
            f"{format_number(row['epoch1'])} ({difference:+.3f}) | {format_number(row['reference_best'])} / "
            f"{format_number(row['best'])} | {format_number(row['reference_best_low'])}–"
            f"{format_number(row['reference_best_high'])} | {row['reference_epochs_run']} / {row['epochs_run']} |"
        )
    return "\n".join(lines) + "\n"


def distinct(values):
    """Distinct values in first-seen order, joined for display; "—" when there are none."""
    return ", ".join(dict.fromkeys(str(v) for v in values if v is not None)) or "—"
