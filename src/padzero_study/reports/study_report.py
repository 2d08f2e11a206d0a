"""Study reporting: merge the results files, summarize them, plot and write a report.

The study runner appends one JSON object per line: an `"epoch"` record per finished epoch and a
`"run_end"` record when a (variant, seed, backend) run finishes. Only runs with a `run_end` are
summarized; the epochs of an interrupted run are left out and the report says so. The files are
read by `padzero_study.results`; the reference numbers come from the variant registry. Example:
`paths = build_report("runs/20news-jax")` writes summary.csv, report.md, learning_curves.png.
"""

import csv
import json
import logging
import math
import statistics
from pathlib import Path

from padzero_study import files
from padzero_study import results
from padzero_study.counts import count_of
from padzero_study.data.datasets import DATASETS
from padzero_study.models.variants import VARIANTS, study_variants

logger = logging.getLogger(__name__)

_REFERENCE_LABELS = {"epoch1_val_accuracy": "epoch-1 val acc", "best_val_accuracy": "best val acc",
                     "best_epoch": "best epoch", "epochs_at_chance": "epochs at chance",
                     "seconds_per_epoch": "s / epoch"}
_PATTERN_PHRASES = {
    "learns_at_once": "it learns from the first epoch",  # epoch-1 accuracy >= chance threshold
    "starts_at_chance": "it starts at chance",  # epoch-1 accuracy < threshold
    "stays_at_chance": "it never leaves chance",  # every epoch < threshold
}
# The original experiment's setup: a study differing from it cannot be compared number for number.
REFERENCE_SETUP = {"dataset": "20news", "train_posts": 15_048, "validation_posts": 3_798, "epochs": 30, "patience": 5}
SUMMARY_COLUMNS = (
    "variant", "backend", "seeds", "epoch1_val_accuracy_mean", "epoch1_val_accuracy_std",
    "best_val_accuracy_mean", "best_val_accuracy_std", "best_epoch_mean", "epochs_at_chance_mean",
    "seeds_at_chance_at_epoch1", "seeds_above_chance_at_epoch1", "seeds_never_left_chance", "seeds_diverged",
    "seconds_per_epoch_mean", "epochs_run_mean", "chance_threshold",
)


def _reference(variant):
    """The original experiment's numbers and pattern for `variant`; {} when it had no such variant."""
    registered = VARIANTS.get(variant)
    return (registered.reference if registered is not None else None) or {}


def _split_runs(records):
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
    complete, _, ends = _split_runs(records)
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
        groups.setdefault(key[:2], []).append({
            "seed": key[2], "config": config, "num_classes": num_classes, "threshold": threshold,
            "epochs": [r["epoch"] for r in epochs], "accuracies": accuracies,
            "epoch1": next((r["val_accuracy"] for r in epochs if r["epoch"] == 1), math.nan),
            "best": best,
            "best_epoch": epochs[accuracies.index(best)]["epoch"] if finite else math.nan,  # the first best
            "at_chance": sum(accuracy < threshold for accuracy in finite),
            "diverged": len(finite) < len(accuracies),
            "seconds": epoch_seconds_after_compile({r["epoch"]: r.get("epoch_seconds", math.nan) for r in epochs}),
            "epochs_run": ends[key]["epochs_run"],
        })
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


def _mean_std(values):
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
        raise ValueError("chance_threshold must be in (0, 1) or None; received "
                         f"chance_threshold={chance_threshold!r}.")
    rows = []
    for (variant, backend), runs in grouped_runs(records, chance_threshold).items():
        epoch1_mean, epoch1_std = _mean_std([run["epoch1"] for run in runs])
        best_mean, best_std = _mean_std([run["best"] for run in runs])
        mean_of = lambda field: _mean_std([run[field] for run in runs])[0]  # noqa: E731
        rows.append({
            "variant": variant, "backend": backend, "seeds": len(runs),
            "epoch1_val_accuracy_mean": epoch1_mean, "epoch1_val_accuracy_std": epoch1_std,
            "best_val_accuracy_mean": best_mean, "best_val_accuracy_std": best_std,
            "best_epoch_mean": mean_of("best_epoch"), "epochs_at_chance_mean": mean_of("at_chance"),
            "seeds_at_chance_at_epoch1": sum(run["epoch1"] < run["threshold"] for run in runs),
            "seeds_above_chance_at_epoch1": sum(run["epoch1"] >= run["threshold"] for run in runs),
            "seeds_never_left_chance": sum(not run["diverged"] and run["at_chance"] == len(run["epochs"])
                                           for run in runs),
            "seeds_diverged": sum(run["diverged"] for run in runs),
            "seconds_per_epoch_mean": mean_of("seconds"), "epochs_run_mean": mean_of("epochs_run"),
            "chance_threshold": runs[0]["threshold"],
        })
    return rows


def write_summary_csv(summary, path):
    """Writes `summarize` rows to `path` as CSV, with `SUMMARY_COLUMNS` as the header."""
    with files.replacing_file(path) as file:  # never written through a link at `path`
        writer = csv.DictWriter(file, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(summary)


def _distinct(values):
    """Distinct values in first-seen order, joined for display; "—" when there are none."""
    return ", ".join(dict.fromkeys(str(v) for v in values if v is not None)) or "—"


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
            axis.plot(run["epochs"], run["accuracies"], color="C0", linewidth=0.8, alpha=0.5,
                      label="one seed" if index == 0 else None)
            for epoch, accuracy in zip(run["epochs"], run["accuracies"]):
                by_epoch.setdefault(epoch, []).append(accuracy)
        axis.plot(sorted(by_epoch), [_mean_std(by_epoch[e])[0] for e in sorted(by_epoch)],
                  color="C0", linewidth=2.2, label="mean over seeds")
        threshold = runs[0]["threshold"]
        axis.axhline(threshold, color="grey", linestyle="--", linewidth=1,
                     label=f"at chance below {threshold:.2g}")
        axis.set(title=f"{variant} ({backend})" if several_backends else variant, ylim=(0, 1))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    for axis in axes[len(groups):]:
        axis.axis("off")
    if groups:
        axes[0].legend(fontsize="small", loc="best")
    runs = [run for group in groups.values() for run in group]
    seed_counts = sorted({len(group) for group in groups.values()}) or [0]
    seeds = f"{seed_counts[0]}" + (f"–{seed_counts[-1]}" if len(seed_counts) > 1 else "")
    figure.supxlabel("epoch")
    figure.supylabel("validation accuracy")
    figure.suptitle("Validation accuracy per epoch — dataset "
                    f"{_distinct(run['config'].get('dataset') for run in runs)}, backend "
                    f"{_distinct(backend for _, backend in groups)}, "
                    f"{seeds} seed(s) per variant")
    with files.replacing_file(path, "wb") as file:
        figure.savefig(file, format="png", dpi=100)


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
            rows.append({
                "variant": key[0], "backend": key[1], "seed": run["seed"],
                "epoch1": run["epoch1"], "best": run["best"], "epochs_run": run["epochs_run"],
                "reference_epoch1": matched["epoch1"], "reference_best": matched["best"],
                "reference_epochs_run": matched["epochs_run"],
                "reference_best_low": min(spread), "reference_best_high": max(spread),
            })
    return rows


def format_comparison(rows, names=("reference", "compared")):
    """A Markdown table of `compare_studies` rows; `names` label the two studies' columns."""
    first, second = names
    lines = [f"| variant | seed | epoch-1 val acc: {first} / {second} (difference) | best val acc: {first} / "
             f"{second} | {first} seeds' best: lowest–highest | epochs run: {first} / {second} |",
             "|---|---:|---|---|---|---|"]
    for row in rows:
        difference = row["epoch1"] - row["reference_epoch1"]
        lines.append(
            f"| {row['variant']} | {row['seed']} | {format_number(row['reference_epoch1'])} / "
            f"{format_number(row['epoch1'])} ({difference:+.3f}) | {format_number(row['reference_best'])} / "
            f"{format_number(row['best'])} | {format_number(row['reference_best_low'])}–"
            f"{format_number(row['reference_best_high'])} | {row['reference_epochs_run']} / {row['epochs_run']} |"
        )
    return "\n".join(lines) + "\n"


def format_number(value, spec=".3f"):
    """`value` formatted by `spec`, or "—" when it is missing (None or NaN).

    >>> format_number(0.12345), format_number(None), format_number(float("nan"), ".1f")
    ('0.123', '—', '—')
    """
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "—" if missing else format(value, spec)


def _mean_std_text(row, field):
    mean, std = row[f"{field}_mean"], row[f"{field}_std"]
    return format_number(mean) + ("" if math.isnan(std) else f" ± {format_number(std)}")


def _study_scope(configs):
    """How the finished runs' setup differs from the reference's, and what that rules out.

    Returns:
        A dict: `notice`, sentences for the top of the report ("" when the
        setup is the reference's); `not_comparable`, the reference fields
        whose numbers cannot be set beside ours; `caveat`, a few words for
        each pattern verdict; `unobservable`, {pattern: why no verdict}.
    """
    def values(key):
        return {config.get(key) for config in configs} - {None}

    datasets = values("dataset")
    other_dataset = bool(datasets) and datasets != {REFERENCE_SETUP["dataset"]}
    max_epochs = max(values("epochs") or {REFERENCE_SETUP["epochs"]})
    patience = min(values("patience") or {REFERENCE_SETUP["patience"]})
    subset_sizes = sorted(values("max_docs"))
    posts = sorted({(config.get("train_posts"), config.get("validation_posts")) for config in configs
                    if "train_posts" in config})
    reference_posts = REFERENCE_SETUP["train_posts"] + REFERENCE_SETUP["validation_posts"]
    subset = (bool(posts) and min(train + validation for train, validation in posts) < reference_posts) or (
        not posts and bool(subset_sizes) and subset_sizes[0] < reference_posts)
    short = max_epochs < REFERENCE_SETUP["epochs"] or patience < REFERENCE_SETUP["patience"]
    not_comparable, unobservable, notice = set(), {}, []
    if other_dataset or subset:
        not_comparable |= set(_REFERENCE_LABELS)
    if other_dataset:
        # Whether a pattern shows on other posts says nothing of the reference's (the synthetic
        # stand-in's default sizes, a smoke test, are too small for any variant to learn).
        unobservable.update({pattern: f"the reference's patterns are for its 20 Newsgroups posts, and this study "
                                      f"used dataset {', '.join(sorted(datasets))}" for pattern in _PATTERN_PHRASES})
    if short and not other_dataset:
        not_comparable |= {"best_val_accuracy", "best_epoch", "epochs_at_chance"}
        unobservable["stays_at_chance"] = (
            f"never leaving chance needs the reference's {REFERENCE_SETUP['epochs']} epochs (a variant stayed at "
            f"chance for 24 of them there), and these runs had at most {count_of(max_epochs, 'epoch')}")
    if subset and not other_dataset:
        counts = " and ".join(f"{train:,} train / {validation:,} validation" for train, validation in posts) or \
            f"at most {subset_sizes[0]:,}"
        notice.append(f"**A subset: these runs saw {counts} posts, the reference "
                      f"{REFERENCE_SETUP['train_posts']:,} / {REFERENCE_SETUP['validation_posts']:,}.** Fewer posts "
                      "make fewer steps per epoch and a different model: none of the reference's numbers "
                      "(accuracies, epochs, seconds per epoch) is comparable, only the patterns at epoch 1.")
    if short:
        notice.append(f"**Short runs: at most {count_of(max_epochs, 'epoch')} (early stopping patience {patience}), the "
                      f"reference up to {REFERENCE_SETUP['epochs']} (patience {REFERENCE_SETUP['patience']}).** "
                      "Best accuracy, best epoch and epochs at chance are cut short, and *never leaves chance* "
                      "gets no verdict.")
    caveat = ("different dataset" if other_dataset else "a subset" if subset else "")
    never_left = (f"stayed at chance in all of their (at most {count_of(max_epochs, 'epoch')})" if short
                  else "never left chance")
    return {"notice": notice, "not_comparable": not_comparable, "unobservable": unobservable,
            "other_dataset": other_dataset, "caveat": caveat, "never_left": never_left}


def _mixed_settings(configs):
    """The settings on which the finished runs differ: {name: its distinct values as JSON writes them}."""
    # Backends side by side are a comparison the report makes, and the data's path differs between machines.
    keys = dict.fromkeys(key for config in configs for key in config if key not in ("backend", "data_path"))
    mixed = {}
    for key in keys:
        # A run recorded before a fact was (the data's fingerprint, say) does not differ on it: it does not say.
        values = dict.fromkeys(json.dumps(config[key], sort_keys=True) for config in configs if key in config)
        if len(values) > 1:
            mixed[key] = list(values)
    return mixed


def _coverage_notices(records, configs, ends):
    """Sentences for the top of the report: mixed settings, study variants that did not run, nothing learned.

    Returns:
        (notices, why no pattern verdict can be given or "").
    """
    notices = []
    mixed = _mixed_settings(configs)
    if mixed:
        described = "; ".join(f"{key}: {', '.join(values)}" for key, values in mixed.items())
        notices.append(f"**Mixed settings: these runs were not all trained alike ({described}).** Their numbers "
                       "are merged below but are not comparable; report each setting's results files apart "
                       "(--results).")
    expected = study_variants()
    ran = {variant for variant, _, _ in ends}
    missing = [variant for variant in expected if variant not in ran]
    if missing and ran & set(expected):
        notices.append(f"**Only {len(expected) - len(missing)} of the {len(expected)} study variants ran**; "
                       f"not run: {', '.join(missing)}.")
    runs = [run for group in grouped_runs(records).values() for run in group]
    learned = any(accuracy >= run["threshold"] for run in runs for accuracy in run["accuracies"]
                  if not math.isnan(accuracy))
    nothing_learned = "" if learned or not runs else \
        "no variant learned in these runs: too few posts or epochs to show a pattern"
    if nothing_learned:
        notices.append(f"**No variant left chance in any run**: {nothing_learned}, so no pattern gets a verdict.")
    return notices, nothing_learned


def _verdict(row, scope):
    """One plain-words sentence: our numbers, the reference's comparable ones, and what reproduced."""
    reference = _reference(row["variant"])
    seeds, pattern, note = row["seeds"], reference.get("pattern"), reference.get("note")
    numbers = [field for field in _REFERENCE_LABELS if field in reference]
    published = [f"{_REFERENCE_LABELS[field]} {reference[field]:g}" for field in numbers
                 if field not in scope["not_comparable"]]
    missing = "no reference number comparable here" if numbers else "no reference number"
    source = [*published, note] if published else [missing, note]
    diverged = row["seeds_diverged"]
    sentence = (f"**{row['variant']}** ({row['backend']}): epoch-1 validation accuracy "
                f"{_mean_std_text(row, 'epoch1_val_accuracy')}, best "
                f"{_mean_std_text(row, 'best_val_accuracy')} at epoch {format_number(row['best_epoch_mean'], '.1f')} "
                f"on average, {format_number(row['epochs_at_chance_mean'], '.1f')} epochs at chance, "
                f"{row['seeds_never_left_chance']} of {seeds} seeds {scope['never_left']}"
                + (f", {diverged} of {seeds} seeds diverged (validation accuracy NaN)" if diverged else "")
                + f" ({'reference: ' if published else ''}{'; '.join(filter(None, source))})")
    if pattern is None:
        return sentence + "."
    if pattern in scope["unobservable"]:
        return f"{sentence} — no verdict: {scope['unobservable'][pattern]}."
    matching = {"learns_at_once": row["seeds_above_chance_at_epoch1"],
                "starts_at_chance": row["seeds_at_chance_at_epoch1"],
                "stays_at_chance": row["seeds_never_left_chance"]}[pattern]
    words = ("reproduced", "partly reproduced", "not reproduced") if numbers else (
        "as expected", "partly as expected", "not as expected")
    word = words[0] if matching == seeds else words[2] if matching == 0 else words[1]
    caveat = f" (pattern only: {scope['caveat']})" if scope["caveat"] else ""
    return (f"{sentence} — {word}{caveat}: {_PATTERN_PHRASES[pattern]} "
            f"on {matching} of {seeds} seeds.")


def format_duration(seconds):
    """'2 h 05 min', or '7 min' under an hour ('under 1 min' under half a minute).

    >>> format_duration(7_500), format_duration(420), format_duration(10)
    ('2 h 05 min', '7 min', 'under 1 min')
    """
    minutes = round(seconds / 60)
    if minutes == 0:
        return "under 1 min"
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def write_report_markdown(summary, records, path, *, plot_name="learning_curves.png", appendix="",
                          set_aside=None):
    """Writes the markdown report: how the setup compares, settings, reference vs ours, verdicts, the plot.

    Args:
        summary: Rows from `summarize(records)`.
        records: Records from `results.load_results`, for the settings and the interrupted runs.
        path: Where to write the markdown file.
        plot_name: Path of the learning-curve PNG, relative to the report.
        appendix: Markdown added at the end (the diagnose run's "Why" section).
        set_aside: `results.set_aside_attempts(run_dir)`: attempts killed half-way and redone.
    """
    _, interrupted, ends = _split_runs(records)
    configs = [end.get("config") or {} for end in ends.values()]
    setting = lambda key: _distinct(config.get(key) for config in configs)  # noqa: E731
    scope = _study_scope(configs)
    coverage, nothing_learned = _coverage_notices(records, configs, ends)
    if nothing_learned:
        scope["unobservable"] = {pattern: nothing_learned for pattern in _PATTERN_PHRASES}
    left_out = ", ".join(f"{variant} seed {seed} on {backend} ({count_of(len(epochs), 'epoch')})"
                         for (variant, backend, seed), epochs in interrupted.items())
    thresholds = _distinct(format_number(row["chance_threshold"], "g") for row in summary)
    vocabulary = (f"{setting('vocabulary')} ids (the {setting('vocab_size')} most frequent words at most, "
                  "and padding)" if any("vocabulary" in config for config in configs) else setting("vocab_size"))
    posts = _distinct(f"{config['train_posts']:,} train / {config['validation_posts']:,} validation"
                      for config in configs if "train_posts" in config)
    lines = ["# padzero study report", ""]
    for paragraph in [*coverage, *scope["notice"]]:
        lines += [paragraph, ""]
    lines += [
        "## Settings", "",
        f"- dataset: {setting('dataset')}; backend: {_distinct(backend for _, backend, _ in ends)}",
        *([f"- posts: {posts}"] if posts != "—" else []),
        f"- epochs: {setting('epochs')}; batch size: {setting('batch_size')}; "
        f"maxlen: {setting('maxlen')}; vocabulary: {vocabulary}",
        f"- seeds: {len({seed for _, _, seed in ends})} "
        f"(ids {_distinct(sorted({seed for _, _, seed in ends}))})",
        f"- training time: {format_duration(sum(end.get('train_seconds') or 0 for end in ends.values()))} over "
        f"{count_of(len(ends), 'finished run')} (the sum of their `fit` times; data preparation excluded)",
        f"- at chance = validation accuracy below {thresholds} (2 / number of classes: a model "
        "that learned anything is far above 1 / number of classes)",
        f"- {count_of(len(interrupted), 'run')} unfinished (running or interrupted), "
        f"not included: {left_out}." if interrupted else "- No unfinished runs.",
    ]
    if set_aside:
        attempts = "; ".join(
            f"{variant} seed {seed} on {backend} ({' and '.join(map(str, epochs))} epoch"
            f"{'s' * (epochs != [1])})" for (variant, backend, seed), epochs in set_aside.items())
        lines.append(f"- Earlier attempts killed half-way and redone from epoch 1 (their epochs are kept in "
                     f"{results.INTERRUPTED_FILE}, not included): {attempts}.")
    lines += [
        "", "## Reference vs ours", "",
        "Reference: the original Keras experiment (Embedding 300 → Flatten → Dense 25 → Dropout "
        f"→ Dense 20, maxlen 1,100, batch 32, {REFERENCE_SETUP['train_posts']:,} train / "
        f"{REFERENCE_SETUP['validation_posts']:,} validation posts, up to {REFERENCE_SETUP['epochs']} epochs with "
        f"early stopping, patience {REFERENCE_SETUP['patience']}). Ours: mean ± std over seeds; s / epoch leaves "
        "out each run's first epoch, which also compiles. — = not published"
        + ("; n/c = not comparable with this study's setup (see the top)." if scope["not_comparable"] else "."),
    ]
    if scope["other_dataset"]:
        lines += ["", "**The reference numbers are for the real 20 Newsgroups data; this study "
                  f"used dataset {setting('dataset')}, so they are not comparable.** Only the "
                  "patterns are."]
    headers = ["variant", "backend", "seeds"]
    for label in _REFERENCE_LABELS.values():
        headers += [f"{label}: reference", "ours"]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in summary:
        ours = [_mean_std_text(row, "epoch1_val_accuracy"),
                _mean_std_text(row, "best_val_accuracy"), format_number(row["best_epoch_mean"], ".1f"),
                format_number(row["epochs_at_chance_mean"], ".1f"),
                format_number(row["seconds_per_epoch_mean"], ".1f")]
        cells = [row["variant"], row["backend"], str(row["seeds"])]
        for field, our_value in zip(_REFERENCE_LABELS, ours):
            published = _reference(row["variant"]).get(field)
            cells += ["n/c" if published is not None and field in scope["not_comparable"]
                      else format_number(published, "g"), our_value]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "", "## What reproduced", "",
        "Each seed is checked against the variant's reference pattern: *learns from the first "
        "epoch* = epoch-1 accuracy at or above the chance threshold; *starts at chance* = below "
        "it; *never leaves chance* = every epoch below it. A seed whose validation accuracy became NaN "
        "diverged and matches none. All seeds → reproduced, some → partly, none → not; \"as expected\" "
        "when the pattern is expected but no number was published.",
        "", *([f"- {_verdict(row, scope)}" for row in summary] or ["No complete runs yet."]),
        "", "## Learning curves", "",
        f"![Validation accuracy per epoch, one panel per variant]({plot_name})", "",
    ]
    if appendix:
        lines += [appendix]
    files.write_own_file(path, "\n".join(lines))


def build_report(run_dir, results_paths=None, appendix=""):
    """Writes `summary.csv`, `learning_curves.png` and `report.md` into `run_dir`.

    Args:
        run_dir: The study's run directory.
        results_paths: Results files to merge; default `results.results_files(run_dir)`:
            `results.jsonl` and every shard's `results.shard-K-of-N.jsonl`.
        appendix: Markdown added at the end of `report.md`.

    Returns:
        A dict of the paths written, keyed `summary_csv`, `report_markdown`, `learning_curves`.

    Raises:
        ResultsError: before anything is written, for a results file that
            cannot be read, or when the files hold no record at all (the
            report in `run_dir` is left as it was).
    """
    run_dir = Path(run_dir)
    # With no results file at all, the missing results.jsonl is the error the user sees.
    paths_read = results_paths or results.results_files(run_dir) or [run_dir / results.RESULTS_FILE]
    # Files the user named may be links (to regular files); the folder's own files may not.
    records = results.load_results(paths_read, follow_links=bool(results_paths))
    if not records:
        raise results.ResultsError(
            f"No results records in {', '.join(map(str, paths_read))}: nothing to report, so the report in "
            f"{run_dir} is left as it was. Give the results files of a study that has run.")
    set_aside = results.set_aside_attempts(run_dir)
    summary = summarize(records)
    paths = {"summary_csv": run_dir / "summary.csv", "report_markdown": run_dir / "report.md",
             "learning_curves": run_dir / "learning_curves.png"}
    write_summary_csv(summary, paths["summary_csv"])
    plot_learning_curves(records, paths["learning_curves"])
    write_report_markdown(summary, records, paths["report_markdown"],
                          plot_name=paths["learning_curves"].name, appendix=appendix,
                          set_aside=set_aside)
    return paths
