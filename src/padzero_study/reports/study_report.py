"""A study folder's report: summary.csv (`summary`), learning_curves.png (`learning_curves`) and report.md.

The study runner appends one JSON object per line: an `"epoch"` record per finished epoch and a
`"run_end"` record when a (variant, seed, backend) run finishes. Only runs with a `run_end` are
summarized; the epochs of an interrupted run are left out and the report says so. The files are
read by `padzero_study.results`; the reference numbers come from the variant registry. Example:
`paths = build_report("runs/20news-jax")` writes summary.csv, report.md, learning_curves.png.
"""

import json
import logging
import math

from padzero_study import files, reference, results
from padzero_study.models.variants import VARIANTS, study_variants
from padzero_study.reports.learning_curves import plot_learning_curves
from padzero_study.reports.summary import (  # noqa: F401  the report's public names
    SUMMARY_COLUMNS,
    compare_studies,
    distinct,
    epoch_seconds_after_compile,
    format_comparison,
    grouped_runs,
    split_runs,
    summarize,
    write_summary_csv,
)
from padzero_study.wording import count_of, format_duration, format_number

logger = logging.getLogger(__name__)

_REFERENCE_LABELS = {
    "epoch1_val_accuracy": "epoch-1 val acc",
    "best_val_accuracy": "best val acc",
    "best_epoch": "best epoch",
    "epochs_at_chance": "epochs at chance",
    "seconds_per_epoch": "s / epoch",
}
_PATTERN_PHRASES = {
    "learns_at_once": "it learns from the first epoch",  # epoch-1 accuracy >= chance threshold
    "starts_at_chance": "it starts at chance",  # epoch-1 accuracy < threshold
    "stays_at_chance": "it never leaves chance",  # every epoch < threshold
}
# The original experiment's setup: a study differing from it cannot be compared number for number.
REFERENCE_SETUP = {
    "dataset": "20news",
    "train_posts": reference.TRAIN_POSTS,
    "validation_posts": reference.VALIDATION_POSTS,
    "epochs": reference.EPOCHS,
    "patience": reference.PATIENCE,
}


def _reference(variant):
    """The original experiment's numbers and pattern for `variant`; {} when it had no such variant."""
    registered = VARIANTS.get(variant)
    return (registered.reference if registered is not None else None) or {}


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
    posts = sorted(
        {(config.get("train_posts"), config.get("validation_posts")) for config in configs if "train_posts" in config}
    )
    reference_posts = REFERENCE_SETUP["train_posts"] + REFERENCE_SETUP["validation_posts"]
    subset = (bool(posts) and min(train + validation for train, validation in posts) < reference_posts) or (
        not posts and bool(subset_sizes) and subset_sizes[0] < reference_posts
    )
    short = max_epochs < REFERENCE_SETUP["epochs"] or patience < REFERENCE_SETUP["patience"]
    not_comparable, unobservable, notice = set(), {}, []
    if other_dataset or subset:
        not_comparable |= set(_REFERENCE_LABELS)
    if other_dataset:
        # Whether a pattern shows on other posts says nothing of the reference's (the synthetic
        # stand-in's default sizes, a smoke test, are too small for any variant to learn).
        unobservable.update(
            {
                pattern: f"the reference's patterns are for its 20 Newsgroups posts, and this study "
                f"used dataset {', '.join(sorted(datasets))}"
                for pattern in _PATTERN_PHRASES
            }
        )
    if short and not other_dataset:
        not_comparable |= {"best_val_accuracy", "best_epoch", "epochs_at_chance"}
        unobservable["stays_at_chance"] = (
            f"never leaving chance needs the reference's {REFERENCE_SETUP['epochs']} epochs (a variant stayed at "
            f"chance for 24 of them there), and these runs had at most {count_of(max_epochs, 'epoch')}"
        )
    if subset and not other_dataset:
        counts = (
            " and ".join(f"{train:,} train / {validation:,} validation" for train, validation in posts)
            or f"at most {subset_sizes[0]:,}"
        )
        notice.append(
            f"**A subset: these runs saw {counts} posts, the reference "
            f"{REFERENCE_SETUP['train_posts']:,} / {REFERENCE_SETUP['validation_posts']:,}.** Fewer posts "
            "make fewer steps per epoch and a different model: none of the reference's numbers "
            "(accuracies, epochs, seconds per epoch) is comparable, only the patterns at epoch 1."
        )
    if short:
        notice.append(
            f"**Short runs: at most {count_of(max_epochs, 'epoch')} (early stopping patience {patience}), the "
            f"reference up to {REFERENCE_SETUP['epochs']} (patience {REFERENCE_SETUP['patience']}).** "
            "Best accuracy, best epoch and epochs at chance are cut short, and *never leaves chance* "
            "gets no verdict."
        )
    caveat = "different dataset" if other_dataset else "a subset" if subset else ""
    never_left = (
        f"stayed at chance in all of their (at most {count_of(max_epochs, 'epoch')})" if short else "never left chance"
    )
    return {
        "notice": notice,
        "not_comparable": not_comparable,
        "unobservable": unobservable,
        "other_dataset": other_dataset,
        "caveat": caveat,
        "never_left": never_left,
    }


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
        notices.append(
            f"**Mixed settings: these runs were not all trained alike ({described}).** Their numbers "
            "are merged below but are not comparable; report each setting's results files apart "
            "(--results)."
        )
    expected = study_variants()
    ran = {variant for variant, _, _ in ends}
    missing = [variant for variant in expected if variant not in ran]
    if missing and ran & set(expected):
        notices.append(
            f"**Only {len(expected) - len(missing)} of the {len(expected)} study variants ran**; "
            f"not run: {', '.join(missing)}."
        )
    runs = [run for group in grouped_runs(records).values() for run in group]
    learned = any(
        accuracy >= run["threshold"] for run in runs for accuracy in run["accuracies"] if not math.isnan(accuracy)
    )
    nothing_learned = (
        "" if learned or not runs else "no variant learned in these runs: too few posts or epochs to show a pattern"
    )
    if nothing_learned:
        notices.append(f"**No variant left chance in any run**: {nothing_learned}, so no pattern gets a verdict.")
    return notices, nothing_learned


def _verdict(row, scope):
    """One plain-words sentence: our numbers, the reference's comparable ones, and what reproduced."""
    reference = _reference(row["variant"])
    seeds, pattern, note = row["seeds"], reference.get("pattern"), reference.get("note")
    numbers = [field for field in _REFERENCE_LABELS if field in reference]
    published = [
        f"{_REFERENCE_LABELS[field]} {reference[field]:g}" for field in numbers if field not in scope["not_comparable"]
    ]
    missing = "no reference number comparable here" if numbers else "no reference number"
    source = [*published, note] if published else [missing, note]
    diverged = row["seeds_diverged"]
    sentence = (
        f"**{row['variant']}** ({row['backend']}): epoch-1 validation accuracy "
        f"{_mean_std_text(row, 'epoch1_val_accuracy')}, best "
        f"{_mean_std_text(row, 'best_val_accuracy')} at epoch {format_number(row['best_epoch_mean'], '.1f')} "
        f"on average, {format_number(row['epochs_at_chance_mean'], '.1f')} epochs at chance, "
        f"{row['seeds_never_left_chance']} of {seeds} seeds {scope['never_left']}"
        + (f", {diverged} of {seeds} seeds diverged (validation accuracy NaN)" if diverged else "")
        + f" ({'reference: ' if published else ''}{'; '.join(filter(None, source))})"
    )
    if pattern is None:
        return sentence + "."
    if pattern in scope["unobservable"]:
        return f"{sentence} — no verdict: {scope['unobservable'][pattern]}."
    matching = {
        "learns_at_once": row["seeds_above_chance_at_epoch1"],
        "starts_at_chance": row["seeds_at_chance_at_epoch1"],
        "stays_at_chance": row["seeds_never_left_chance"],
    }[pattern]
    words = (
        ("reproduced", "partly reproduced", "not reproduced")
        if numbers
        else ("as expected", "partly as expected", "not as expected")
    )
    word = words[0] if matching == seeds else words[2] if matching == 0 else words[1]
    caveat = f" (pattern only: {scope['caveat']})" if scope["caveat"] else ""
    return f"{sentence} — {word}{caveat}: {_PATTERN_PHRASES[pattern]} on {matching} of {seeds} seeds."


def write_report_markdown(
    summary, records, path, *, plot_name=results.LEARNING_CURVES_FILE, appendix="", set_aside=None
):
    """Writes the markdown report: how the setup compares, settings, reference vs ours, verdicts, the plot.

    Args:
        summary: Rows from `summarize(records)`.
        records: Records from `results.load_results`, for the settings and the interrupted runs.
        path: Where to write the markdown file.
        plot_name: Path of the learning-curve PNG, relative to the report.
        appendix: Markdown added at the end (the diagnose run's "Why" section).
        set_aside: `StudyFolder.set_aside_attempts()`: attempts killed half-way and redone.
    """
    _, interrupted, ends = split_runs(records)
    configs = [end.get("config") or {} for end in ends.values()]
    setting = lambda key: distinct(config.get(key) for config in configs)  # noqa: E731
    scope = _study_scope(configs)
    coverage, nothing_learned = _coverage_notices(records, configs, ends)
    if nothing_learned:
        scope["unobservable"] = {pattern: nothing_learned for pattern in _PATTERN_PHRASES}
    left_out = ", ".join(
        f"{variant} seed {seed} on {backend} ({count_of(len(epochs), 'epoch')})"
        for (variant, backend, seed), epochs in interrupted.items()
    )
    thresholds = distinct(format_number(row["chance_threshold"], "g") for row in summary)
    vocabulary = (
        f"{setting('vocabulary')} ids (the {setting('vocab_size')} most frequent words at most, and padding)"
        if any("vocabulary" in config for config in configs)
        else setting("vocab_size")
    )
    posts = distinct(
        f"{config['train_posts']:,} train / {config['validation_posts']:,} validation"
        for config in configs
        if "train_posts" in config
    )
    lines = ["# padzero study report", ""]
    for paragraph in [*coverage, *scope["notice"]]:
        lines += [paragraph, ""]
    lines += [
        "## Settings",
        "",
        f"- dataset: {setting('dataset')}; backend: {distinct(backend for _, backend, _ in ends)}",
        *([f"- posts: {posts}"] if posts != "—" else []),
        f"- epochs: {setting('epochs')}; batch size: {setting('batch_size')}; "
        f"maxlen: {setting('maxlen')}; vocabulary: {vocabulary}",
        f"- seeds: {len({seed for _, _, seed in ends})} (ids {distinct(sorted({seed for _, _, seed in ends}))})",
        f"- training time: {format_duration(sum(end.get('train_seconds') or 0 for end in ends.values()))} over "
        f"{count_of(len(ends), 'finished run')} (the sum of their `fit` times; data preparation excluded)",
        f"- at chance = validation accuracy below {thresholds} (2 / number of classes: a model "
        "that learned anything is far above 1 / number of classes)",
        f"- {count_of(len(interrupted), 'run')} unfinished (running or interrupted), not included: {left_out}."
        if interrupted
        else "- No unfinished runs.",
    ]
    if set_aside:
        attempts = "; ".join(
            f"{variant} seed {seed} on {backend} ({' and '.join(map(str, epochs))} epoch{'s' * (epochs != [1])})"
            for (variant, backend, seed), epochs in set_aside.items()
        )
        lines.append(
            f"- Earlier attempts killed half-way and redone from epoch 1 (their epochs are kept in "
            f"{results.INTERRUPTED_FILE}, not included): {attempts}."
        )
    lines += [
        "",
        "## Reference vs ours",
        "",
        "Reference: the original Keras experiment (Embedding 300 → Flatten → Dense 25 → Dropout "
        f"→ Dense 20, maxlen 1,100, batch 32, {REFERENCE_SETUP['train_posts']:,} train / "
        f"{REFERENCE_SETUP['validation_posts']:,} validation posts, up to {REFERENCE_SETUP['epochs']} epochs with "
        f"early stopping, patience {REFERENCE_SETUP['patience']}). Ours: mean ± std over seeds; s / epoch leaves "
        "out each run's first epoch, which also compiles. — = not published"
        + ("; n/c = not comparable with this study's setup (see the top)." if scope["not_comparable"] else "."),
    ]
    if scope["other_dataset"]:
        lines += [
            "",
            "**The reference numbers are for the real 20 Newsgroups data; this study "
            f"used dataset {setting('dataset')}, so they are not comparable.** Only the "
            "patterns are.",
        ]
    headers = ["variant", "backend", "seeds"]
    for label in _REFERENCE_LABELS.values():
        headers += [f"{label}: reference", "ours"]
    lines += ["", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in summary:
        ours = [
            _mean_std_text(row, "epoch1_val_accuracy"),
            _mean_std_text(row, "best_val_accuracy"),
            format_number(row["best_epoch_mean"], ".1f"),
            format_number(row["epochs_at_chance_mean"], ".1f"),
            format_number(row["seconds_per_epoch_mean"], ".1f"),
        ]
        cells = [row["variant"], row["backend"], str(row["seeds"])]
        for field, our_value in zip(_REFERENCE_LABELS, ours):
            published = _reference(row["variant"]).get(field)
            cells += [
                "n/c" if published is not None and field in scope["not_comparable"] else format_number(published, "g"),
                our_value,
            ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## What reproduced",
        "",
        "Each seed is checked against the variant's reference pattern: *learns from the first "
        "epoch* = epoch-1 accuracy at or above the chance threshold; *starts at chance* = below "
        "it; *never leaves chance* = every epoch below it. A seed whose validation accuracy became NaN "
        'diverged and matches none. All seeds → reproduced, some → partly, none → not; "as expected" '
        "when the pattern is expected but no number was published.",
        "",
        *([f"- {_verdict(row, scope)}" for row in summary] or ["No complete runs yet."]),
        "",
        "## Learning curves",
        "",
        f"![Validation accuracy per epoch, one panel per variant]({plot_name})",
        "",
    ]
    if appendix:
        lines += [appendix]
    files.write_own_file(path, "\n".join(lines))


def build_report(run_dir, results_paths=None, appendix=""):
    """Writes `summary.csv`, `learning_curves.png` and `report.md` into `run_dir`.

    Args:
        run_dir: The study's folder, or its `StudyFolder` (read once, handed down).
        results_paths: Results files to merge; default the folder's `results.jsonl` and every shard's
            `results.shard-K-of-N.jsonl`.
        appendix: Markdown added at the end of `report.md`.

    Returns:
        A dict of the paths written, keyed `summary_csv`, `report_markdown`, `learning_curves`.

    Raises:
        ResultsError: before anything is written, for a results file that
            cannot be read, or when the files hold no record at all (the
            report in `run_dir` is left as it was).
    """
    folder = results.as_folder(run_dir, results_paths)
    records = folder.records_to_report()
    set_aside = folder.set_aside_attempts()
    summary = summarize(records)
    paths = {
        "summary_csv": folder.path / results.SUMMARY_FILE,
        "report_markdown": folder.path / results.REPORT_FILE,
        "learning_curves": folder.path / results.LEARNING_CURVES_FILE,
    }
    write_summary_csv(summary, paths["summary_csv"])
    plot_learning_curves(records, paths["learning_curves"])
    write_report_markdown(
        summary,
        records,
        paths["report_markdown"],
        plot_name=paths["learning_curves"].name,
        appendix=appendix,
        set_aside=set_aside,
    )
    return paths
