"""Study reporting: merge `results.jsonl` shards, summarize them, plot and write a report.

The study runner appends one JSON object per line: an `"epoch"` record per finished epoch and a
`"run_end"` record when a (variant, seed, backend) run finishes. Only runs with a `run_end` are
summarized; the epochs of an interrupted run are left out and the report says so. Example:
`paths = build_report("runs/20news-jax")` writes summary.csv, report.md, learning_curves.png.
"""

import csv
import json
import logging
import math
import statistics
from pathlib import Path

logger = logging.getLogger(__name__)

KNOWN_VARIANTS = ("baseline", "multiply", "padzero", "uniform_nonneg", "uniform", "mask_zero",
                  "masked_average", "uniform_unmasked", "uniform_nonneg_unmasked")
# The original Keras experiment; a field that is missing was not published.
# `pattern` is what each of our seeds must show to count as reproducing it (`_PATTERN_PHRASES`).
REFERENCE = {
    "baseline": {"epoch1_val_accuracy": 0.05, "best_val_accuracy": 0.875, "best_epoch": 13,
                 "epochs_at_chance": 4, "seconds_per_epoch": 56, "pattern": "starts_at_chance",
                 "note": "plain Keras Embedding: ≈ 0.05 for the first 4 epochs"},
    "multiply": {"epoch1_val_accuracy": 0.775, "best_val_accuracy": 0.894, "epochs_at_chance": 0,
                 "pattern": "learns_at_once",
                 "note": "Lambda mask × Multiply workaround: 0.88 after epoch 2"},
    "padzero": {"pattern": "learns_at_once", "note": "expected to behave like multiply"},
    "uniform_nonneg": {"epoch1_val_accuracy": 0.05, "epochs_at_chance": 24,
                       "pattern": "stays_at_chance", "note": "RandomUniform(1e-4, 0.05) init + "
                       "NonNeg + the mask: stuck at ≈ 0.05 for 24 epochs"},
    "uniform": {"epoch1_val_accuracy": 0.05, "pattern": "stays_at_chance",
                "note": "uniform_nonneg without NonNeg: also stuck at ≈ 0.05"},
    "mask_zero": {"pattern": "starts_at_chance",
                  "note": "expected to behave like baseline, since Flatten ignores masks"},
    "masked_average": {},
}
_REFERENCE_LABELS = {"epoch1_val_accuracy": "epoch-1 val acc", "best_val_accuracy": "best val acc",
                     "best_epoch": "best epoch", "epochs_at_chance": "epochs at chance",
                     "seconds_per_epoch": "s / epoch"}
_PATTERN_PHRASES = {
    "learns_at_once": "it learns from the first epoch",  # epoch-1 accuracy >= chance threshold
    "starts_at_chance": "it starts at chance",  # epoch-1 accuracy < threshold
    "stays_at_chance": "it never leaves chance",  # every epoch < threshold
}
SUMMARY_COLUMNS = (
    "variant", "backend", "seeds", "epoch1_val_accuracy_mean", "epoch1_val_accuracy_std",
    "best_val_accuracy_mean", "best_val_accuracy_std", "best_epoch_mean", "epochs_at_chance_mean",
    "seeds_at_chance_at_epoch1", "seeds_never_left_chance", "seconds_per_epoch_mean",
    "epochs_run_mean", "chance_threshold",
)
_REQUIRED_KEYS = {"epoch": ("variant", "seed", "backend", "epoch", "val_accuracy"),
                  "run_end": ("variant", "seed", "backend", "epochs_run")}
# What `padzero reproduce --shard K/N` writes: results.shard-K-of-N.jsonl.
SHARD_RESULTS_GLOB = "results.shard-*-of-*.jsonl"
# Where `padzero reproduce` moves the epochs of a run killed half-way before redoing it.
INTERRUPTED_FILE = "interrupted.jsonl"


def find_results_files(run_dir):
    """The results files in `run_dir` that exist: `results.jsonl`, then the shards' files, sorted."""
    run_dir = Path(run_dir)
    unsharded = [run_dir / "results.jsonl"] if (run_dir / "results.jsonl").exists() else []
    return unsharded + sorted(run_dir.glob(SHARD_RESULTS_GLOB))


def load_results(paths):
    """Reads and merges `results.jsonl` shards.

    Args:
        paths: A path, or a list of paths, to JSON-lines files written by the study runner.

    Returns:
        A list of record dicts, in file order.

    Raises:
        ValueError: on a malformed line (naming file and line number), or when a record for the
            same (variant, seed, backend, epoch), or a run's `run_end`, appears twice. A last line
            with no newline that does not parse is a write cut short by a kill: it is skipped, and
            the count is logged.
    """
    paths = [paths] if isinstance(paths, (str, Path)) else paths
    records, first_seen, duplicates, truncated_lines = [], {}, [], 0
    for path in map(Path, paths):
        # split("\n"), not splitlines(): a non-empty last item means no trailing newline.
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, line in enumerate(lines, start=1):
            where = f"{path} line {number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if number == len(lines):
                    truncated_lines += 1
                    continue
                raise ValueError(f"{where} is not valid JSON ({error.msg}); received "
                                 f"{line[:80]!r}. Fix or delete that line.") from None
            kind = record.get("record") if isinstance(record, dict) else None
            required = ("record", *_REQUIRED_KEYS.get(kind, ()))
            missing = [key for key in required if kind is None or key not in record]
            if missing:
                raise ValueError(f"{where} is missing keys {missing} (a {kind!r} record needs "
                                 f"{required}); received {line[:80]!r}.")
            if kind in _REQUIRED_KEYS:
                key = (kind, record["variant"], record["seed"], record["backend"],
                       record.get("epoch"))
                if key in first_seen:
                    duplicates.append(f"{key} in {first_seen[key]} and {where}")
                first_seen.setdefault(key, where)
            records.append(record)
    if duplicates:
        raise ValueError(f"{len(duplicates)} duplicated (record, variant, seed, backend, epoch) "
                         f"record(s): {'; '.join(duplicates[:5])}. Two shards probably ran the "
                         "same seed: keep one copy of each run.")
    if truncated_lines:
        logger.warning("Skipped %d truncated last line(s), writes cut short by a kill.",
                       truncated_lines)
    return records


def set_aside_attempts(run_dir):
    """The attempts `padzero reproduce` moved to `interrupted.jsonl` before redoing them.

    Returns:
        {(variant, backend, seed): [epochs reached by each attempt]}, in file
        order; empty when there is no such file. An attempt ends where the
        epoch count starts again.
    """
    path = Path(run_dir) / INTERRUPTED_FILE
    attempts = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill: the count below is a floor
        if not isinstance(record, dict) or record.get("record") != "epoch" or "epoch" not in record:
            continue
        runs = attempts.setdefault((record.get("variant"), record.get("backend"), record.get("seed")), [])
        if runs and record["epoch"] > runs[-1]:
            runs[-1] = record["epoch"]
        else:
            runs.append(record["epoch"])
    return attempts


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


def _grouped_runs(records, chance_threshold=None):
    """Complete runs and their per-seed numbers, grouped by (variant, backend) in report order."""
    complete, _, ends = _split_runs(records)
    groups = {}
    for key, epochs in complete.items():
        epochs.sort(key=lambda r: r["epoch"])
        config = ends[key].get("config") or {}
        num_classes = config.get("num_classes", 20)
        # Twice chance: a model that learned anything is far above 1 / num_classes, while one
        # stuck on the padding hovers at it (≈ 0.05 for 20 classes) with some noise.
        threshold = 2 / num_classes if chance_threshold is None else chance_threshold
        accuracies = [r["val_accuracy"] for r in epochs]
        groups.setdefault(key[:2], []).append({
            "config": config, "num_classes": num_classes, "threshold": threshold,
            "epochs": [r["epoch"] for r in epochs], "accuracies": accuracies,
            "epoch1": next((r["val_accuracy"] for r in epochs if r["epoch"] == 1), math.nan),
            "best": max(accuracies),
            "best_epoch": epochs[accuracies.index(max(accuracies))]["epoch"],  # the first best
            "at_chance": sum(accuracy < threshold for accuracy in accuracies),
            "seconds": statistics.fmean(r.get("epoch_seconds", math.nan) for r in epochs),
            "epochs_run": ends[key]["epochs_run"],
        })
    rank = {variant: index for index, variant in enumerate(KNOWN_VARIANTS)}
    order = sorted(groups, key=lambda key: (rank.get(key[0], len(rank)), key))
    return {key: groups[key] for key in order}


def _mean_std(values):
    # Sample std (ddof=1); NaN for one seed, where 0 would wrongly read as "no spread".
    values = [value for value in values if not math.isnan(value)]
    mean = statistics.fmean(values) if values else math.nan
    return mean, (statistics.stdev(values) if len(values) > 1 else math.nan)


def summarize(records, chance_threshold=None):
    """Summarizes complete runs over seeds, one row per (variant, backend).

    Args:
        records: Records from `load_results`. Epochs of runs without a `run_end` are ignored.
        chance_threshold: Float in (0, 1) or `None`. Validation accuracy below it counts as "at
            chance". `None` uses 2 / `num_classes` of each run's config (default 20 → 0.10).

    Returns:
        A list of dicts with keys `SUMMARY_COLUMNS`. Stds use ddof=1 and are NaN for one seed.
    """
    if chance_threshold is not None and not 0 < chance_threshold < 1:
        raise ValueError("chance_threshold must be in (0, 1) or None; received "
                         f"chance_threshold={chance_threshold!r}.")
    rows = []
    for (variant, backend), runs in _grouped_runs(records, chance_threshold).items():
        epoch1_mean, epoch1_std = _mean_std([run["epoch1"] for run in runs])
        best_mean, best_std = _mean_std([run["best"] for run in runs])
        mean_of = lambda field: statistics.fmean(run[field] for run in runs)  # noqa: E731
        rows.append({
            "variant": variant, "backend": backend, "seeds": len(runs),
            "epoch1_val_accuracy_mean": epoch1_mean, "epoch1_val_accuracy_std": epoch1_std,
            "best_val_accuracy_mean": best_mean, "best_val_accuracy_std": best_std,
            "best_epoch_mean": mean_of("best_epoch"), "epochs_at_chance_mean": mean_of("at_chance"),
            "seeds_at_chance_at_epoch1": sum(run["epoch1"] < run["threshold"] for run in runs),
            "seeds_never_left_chance": sum(run["at_chance"] == len(run["epochs"]) for run in runs),
            "seconds_per_epoch_mean": mean_of("seconds"), "epochs_run_mean": mean_of("epochs_run"),
            "chance_threshold": runs[0]["threshold"],
        })
    return rows


def write_summary_csv(summary, path):
    """Writes `summarize` rows to `path` as CSV, with `SUMMARY_COLUMNS` as the header."""
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(summary)


def _distinct(values):
    """Distinct values in first-seen order, joined for display; "—" when there are none."""
    return ", ".join(dict.fromkeys(str(v) for v in values if v is not None)) or "—"


def plot_learning_curves(records, path):
    """Plots validation accuracy per epoch of the complete runs to a PNG, a panel per variant.

    Each seed is a thin line, the mean over the seeds that reached an epoch a bold line, and
    chance (1 / num_classes) a dashed line.

    Args:
        records: Records from `load_results`.
        path: Where to write the PNG.
    """
    # A bare Figure, not pyplot: no global backend switch, no figure left open.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    groups = _grouped_runs(records)
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
        axis.plot(sorted(by_epoch), [statistics.fmean(by_epoch[e]) for e in sorted(by_epoch)],
                  color="C0", linewidth=2.2, label="mean over seeds")
        num_classes = runs[0]["num_classes"]
        axis.axhline(1 / num_classes, color="grey", linestyle="--", linewidth=1,
                     label=f"chance (1/{num_classes})")
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
    figure.savefig(path, dpi=100)


def _number(value, spec=".3f"):
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "—" if missing else format(value, spec)


def _mean_std_text(row, field):
    mean, std = row[f"{field}_mean"], row[f"{field}_std"]
    return _number(mean) + ("" if math.isnan(std) else f" ± {_number(std)}")


def _verdict(row, comparable):
    """One plain-words sentence: our numbers, the reference's, and what reproduced."""
    reference = REFERENCE.get(row["variant"], {})
    seeds, pattern, note = row["seeds"], reference.get("pattern"), reference.get("note")
    published = [f"{label} {reference[field]:g}" for field, label in _REFERENCE_LABELS.items()
                 if field in reference]
    source = [*published, note] if published else ["no reference number", note]
    sentence = (f"**{row['variant']}** ({row['backend']}): epoch-1 validation accuracy "
                f"{_mean_std_text(row, 'epoch1_val_accuracy')}, best "
                f"{_mean_std_text(row, 'best_val_accuracy')} at epoch {row['best_epoch_mean']:.1f} "
                f"on average, {row['epochs_at_chance_mean']:.1f} epochs at chance, "
                f"{row['seeds_never_left_chance']} of {seeds} seeds never left chance "
                f"({'reference: ' if published else ''}{'; '.join(filter(None, source))})")
    if pattern is None:
        return sentence + "."
    matching = {"learns_at_once": seeds - row["seeds_at_chance_at_epoch1"],
                "starts_at_chance": row["seeds_at_chance_at_epoch1"],
                "stays_at_chance": row["seeds_never_left_chance"]}[pattern]
    words = ("reproduced", "partly reproduced", "not reproduced") if published else (
        "as expected", "partly as expected", "not as expected")
    word = words[0] if matching == seeds else words[2] if matching == 0 else words[1]
    caveat = "" if comparable else " (pattern only: different dataset)"
    return (f"{sentence} — {word}{caveat}: {_PATTERN_PHRASES[pattern]} "
            f"on {matching} of {seeds} seeds.")


def _count(number, noun):
    """'1 epoch', '3 epochs'.

    >>> _count(1, "epoch"), _count(3, "finished run")
    ('1 epoch', '3 finished runs')
    """
    return f"{number} {noun}{'s' * (number != 1)}"


def _duration(seconds):
    """'2 h 05 min', or '7 min' under an hour.

    >>> _duration(7_500), _duration(420)
    ('2 h 05 min', '7 min')
    """
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def write_report_markdown(summary, records, path, *, plot_name="learning_curves.png", appendix="",
                          set_aside=None):
    """Writes the markdown report: settings, reference vs ours, a verdict per variant, the plot.

    Args:
        summary: Rows from `summarize(records)`.
        records: Records from `load_results`, for the settings and the interrupted runs.
        path: Where to write the markdown file.
        plot_name: Path of the learning-curve PNG, relative to the report.
        appendix: Markdown added at the end (the diagnose run's "Why" section).
        set_aside: `set_aside_attempts(run_dir)`: attempts killed half-way and redone.
    """
    _, interrupted, ends = _split_runs(records)
    configs = [end.get("config") or {} for end in ends.values()]
    setting = lambda key: _distinct(config.get(key) for config in configs)  # noqa: E731
    comparable = setting("dataset") == "20news"
    left_out = ", ".join(f"{variant} seed {seed} on {backend} ({_count(len(epochs), 'epoch')})"
                         for (variant, backend, seed), epochs in interrupted.items())
    thresholds = _distinct(_number(row["chance_threshold"], "g") for row in summary)
    lines = [
        "# padzero study report", "", "## Settings", "",
        f"- dataset: {setting('dataset')}; backend: {_distinct(backend for _, backend, _ in ends)}",
        f"- epochs: {setting('epochs')}; batch size: {setting('batch_size')}; "
        f"maxlen: {setting('maxlen')}; vocabulary: {setting('vocab_size')}",
        f"- seeds: {len({seed for _, _, seed in ends})} "
        f"(ids {_distinct(sorted({seed for _, _, seed in ends}))})",
        f"- training time: {_duration(sum(end.get('train_seconds') or 0 for end in ends.values()))} over "
        f"{_count(len(ends), 'finished run')} (the sum of their `fit` times; data preparation excluded)",
        f"- at chance = validation accuracy below {thresholds} (2 / number of classes: a model "
        "that learned anything is far above 1 / number of classes)",
        f"- {_count(len(interrupted), 'run')} unfinished (running or interrupted), "
        f"not included: {left_out}." if interrupted else "- No unfinished runs.",
    ]
    if set_aside:
        attempts = "; ".join(
            f"{variant} seed {seed} on {backend} ({' and '.join(map(str, epochs))} epoch"
            f"{'s' * (epochs != [1])})" for (variant, backend, seed), epochs in set_aside.items())
        lines.append(f"- Earlier attempts killed half-way and redone from epoch 1 (their epochs are kept in {INTERRUPTED_FILE}, "
                     f"not included): {attempts}.")
    lines += [
        "", "## Reference vs ours", "",
        "Reference: the original Keras experiment (Embedding 300 → Flatten → Dense 25 → Dropout "
        "→ Dense 20, maxlen 1,100, batch 32, 15,048 train / 3,798 validation posts). "
        "Ours: mean ± std over seeds. — = not published.",
    ]
    if not comparable:
        lines += ["", "**The reference numbers are for the real 20 Newsgroups data; this study "
                  f"used dataset {setting('dataset')}, so they are not comparable.** Only the "
                  "patterns are."]
    headers = ["variant", "backend", "seeds"]
    for label in _REFERENCE_LABELS.values():
        headers += [f"{label}: reference", "ours"]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in summary:
        ours = [_mean_std_text(row, "epoch1_val_accuracy"),
                _mean_std_text(row, "best_val_accuracy"), _number(row["best_epoch_mean"], ".1f"),
                _number(row["epochs_at_chance_mean"], ".1f"),
                _number(row["seconds_per_epoch_mean"], ".1f")]
        cells = [row["variant"], row["backend"], str(row["seeds"])]
        for field, our_value in zip(_REFERENCE_LABELS, ours):
            cells += [_number(REFERENCE.get(row["variant"], {}).get(field), "g"), our_value]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "", "## What reproduced", "",
        "Each seed is checked against the variant's reference pattern: *learns from the first "
        "epoch* = epoch-1 accuracy at or above the chance threshold; *starts at chance* = below "
        "it; *never leaves chance* = every epoch below it. All seeds → reproduced, some → partly, "
        "none → not; \"as expected\" when the pattern is expected but no number was published.",
        "", *([f"- {_verdict(row, comparable)}" for row in summary] or ["No complete runs yet."]),
        "", "## Learning curves", "",
        f"![Validation accuracy per epoch, one panel per variant]({plot_name})", "",
    ]
    if appendix:
        lines += [appendix]
    Path(path).write_text("\n".join(lines), encoding="utf-8")


def build_report(run_dir, results_paths=None, appendix=""):
    """Writes `summary.csv`, `learning_curves.png` and `report.md` into `run_dir`.

    Args:
        run_dir: The study's run directory.
        results_paths: Results files to merge; default `find_results_files(run_dir)`:
            `results.jsonl` and every shard's `results.shard-K-of-N.jsonl`.
        appendix: Markdown added at the end of `report.md`.

    Returns:
        A dict of the paths written, keyed `summary_csv`, `report_markdown`, `learning_curves`.
    """
    run_dir = Path(run_dir)
    # With no results file at all, the missing results.jsonl is the error the user sees.
    records = load_results(results_paths or find_results_files(run_dir) or [run_dir / "results.jsonl"])
    summary = summarize(records)
    paths = {"summary_csv": run_dir / "summary.csv", "report_markdown": run_dir / "report.md",
             "learning_curves": run_dir / "learning_curves.png"}
    write_summary_csv(summary, paths["summary_csv"])
    plot_learning_curves(records, paths["learning_curves"])
    write_report_markdown(summary, records, paths["report_markdown"],
                          plot_name=paths["learning_curves"].name, appendix=appendix,
                          set_aside=set_aside_attempts(run_dir))
    return paths
