"""The diagnostics of `padzero_study.diagnostics.recorder` as a plot (a panel per measure, a line per run), a table and the report's "Why" section.

The diagnostics file is read by `padzero_study.results.StudyFolder`; this
module needs neither Keras nor NumPy.
"""

import logging
from pathlib import Path

from padzero_study import files, results
from padzero_study.reports import study_report as report
from padzero_study.wording import format_number

logger = logging.getLogger(__name__)

PANELS = (
    ("padding_gradient_share", "padding row's share of the\nembedding gradient (squared norm)"),
    ("table_gradient_norm", "norm of the embedding gradient\n(log scale)"),
    ("padding_norm", "norm of the padding vector"),
    ("pre_activation_mean", "mean hidden pre-activation\n(the ReLUs' input)"),
    ("dead_unit_fraction", "hidden ReLU units dead\non validation posts"),
    ("val_accuracy", "validation accuracy"),
)


def runs_of(records):
    """The records grouped by (variant, seed), each group in training order: init, steps of epoch 1, epochs."""
    runs = {}
    for record in records:
        runs.setdefault((record["variant"], record["seed"]), []).append(record)
    return {key: _in_training_order(run) for key, run in sorted(runs.items())}


def _in_training_order(run):
    return sorted(run, key=lambda r: (0, r["step"]) if r["step"] is not None else (1, r["epoch"]))


def finished_diagnostics(run_dir, results_paths=None):
    """`StudyFolder.finished_diagnostics` of `run_dir` (a folder or its `StudyFolder`): the diagnostics lines of
    runs that finished, and the (variant, seed) pairs left out because they are still running or were
    interrupted."""
    return results.as_folder(run_dir, results_paths).finished_diagnostics()


def checkpoint_label(record):
    """'init', 's10' (after step 10 of epoch 1) or 'e3' (after epoch 3)."""
    if record["step"] is None:
        return f"e{record['epoch']}"
    return "init" if record["step"] == 0 else f"s{record['step']}"


def plot_diagnostics(records, png_path):
    """Plots every measure at every checkpoint (evenly spaced: the first epoch's steps, then epochs).

    Args:
        records: the records of a `diagnostics.jsonl` (`StudyFolder.diagnostics`).
        png_path: where to write the PNG.

    Returns:
        `png_path`.
    """
    from matplotlib.figure import Figure

    labels = list(dict.fromkeys(map(checkpoint_label, _in_training_order(records))))
    position = {label: index for index, label in enumerate(labels)}
    runs = runs_of(records)
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
                axis.plot(
                    *zip(*points), marker=".", color=colours[variant], alpha=0.8, label=variant if first_seed else None
                )
    for axis, (key, title) in zip(axes, PANELS):
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        axis.set_xlabel("after (s = step of epoch 1, e = epoch)", fontsize=8)
        axis.grid(alpha=0.3)
        if key == "table_gradient_norm":
            axis.set_yscale("log")
    axes[0].legend(fontsize=8)
    with files.replacing_file(png_path, "wb") as file:
        figure.savefig(file, format="png", dpi=110)
    return png_path


def write_diagnostics_table(records, markdown_path):
    """A Markdown table with a row per recorded checkpoint of every (variant, seed); returns `markdown_path`."""
    lines = [
        "| variant | seed | after | padding share of embedding gradient | embedding gradient norm "
        "| padding norm (mean word norm) | dead ReLUs | pre-activation mean ± std | val accuracy | padding's nearest words |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for record in records:
        after = f"step {record['step']}" if record["step"] is not None else f"epoch {record['epoch']}"
        # A zero padding vector has no direction (older files list arbitrary words at cosine 0 for it).
        neighbours = record["padding_nearest_words"][:3] if record["padding_norm"] > 0 else []
        words = ", ".join(f"{word} ({cosine:.2f})" for word, cosine in neighbours) or "-"
        lines.append(
            f"| {record['variant']} | {record['seed']} | {after} | {format_number(record['padding_gradient_share'])} "
            f"| {format_number(record.get('table_gradient_norm'), '.4f')} | {format_number(record['padding_norm'], '.2f')} "
            f"({format_number(record['word_norm_mean'], '.2f')}) | {format_number(record['dead_unit_fraction'], '.2f')} "
            f"| {format_number(record['pre_activation_mean'], '.2f')} ± {format_number(record['pre_activation_std'], '.2f')} "
            f"| {format_number(record.get('val_accuracy'))} | {words} |"
        )
    files.write_own_file(markdown_path, "\n".join(lines) + "\n")
    return markdown_path


def run_findings(records, chance_threshold=0.1):
    """The key numbers of each (variant, seed) run, the ones the Why section states.

    Args:
        records: lines of a `diagnostics.jsonl`.
        chance_threshold: validation accuracy that counts as having left chance
            (the study's 2 / number of classes).

    Returns:
        A list of dicts, one per run in (variant, seed) order, with the padding's
        gradient share at init, the mean pre-activation after 0/1/10/100 steps, the
        largest dead-ReLU fraction and smallest embedding-gradient norm of epoch 1,
        the padding vector's norm and nearest-word cosine at init and at the end,
        the Dense kernel norms of padded vs real positions at the end, the first
        epoch at or above `chance_threshold` (None if none) and the accuracy per epoch.
    """
    findings = []
    for (variant, seed), ordered in runs_of(records).items():
        at = {checkpoint_label(r): r for r in ordered}
        first, last = ordered[0], ordered[-1]
        init = at.get("init", {})
        # Training checkpoints of epoch 1: its steps and its end, not the state before training.
        first_epoch = [r for r in ordered if (r["step"] or 0) > 0 or (r["step"] is None and r["epoch"] == 1)] or ordered
        most_dead = max(first_epoch, key=lambda r: r["dead_unit_fraction"])
        gradient_norms = [r["table_gradient_norm"] for r in first_epoch if r.get("table_gradient_norm") is not None]
        epochs = [r for r in ordered if r["step"] is None and r.get("val_accuracy") is not None]
        above = [r["epoch"] for r in epochs if r["val_accuracy"] >= chance_threshold]

        def nearest_cosine(record):
            neighbours = record["padding_nearest_words"] if record["padding_norm"] > 0 else []
            return neighbours[0][1] if neighbours else None

        findings.append(
            {
                "variant": variant,
                "seed": seed,
                "padding_share_at_init": init.get("padding_gradient_share"),  # None: zero gradient, or no init line
                "shared_input_l1_at_init": init.get("shared_input_l1"),  # absent from files of older recorders
                "pre_activation_std_after_step_1": at["s1"]["pre_activation_std"] if "s1" in at else None,
                "pre_activation_mean": {
                    label: at[label]["pre_activation_mean"] for label in ("init", "s1", "s10", "s100") if label in at
                },
                "most_dead": most_dead["dead_unit_fraction"],
                "most_dead_at": checkpoint_label(most_dead),
                "smallest_gradient_norm": min(gradient_norms) if gradient_norms else None,
                "padding_norm": (first["padding_norm"], last["padding_norm"]),
                "nearest_cosine": (nearest_cosine(first), nearest_cosine(last)),
                # Absent for masked_average, whose Dense layer sees one pooled position.
                "kernel_norms_at_end": tuple(
                    last.get("kernel_norms", {}).get(key) for key in ("padding_positions", "real_positions")
                ),
                "first_epoch_above_chance": above[0] if above else None,
                "val_accuracy": [r["val_accuracy"] for r in epochs],
            }
        )
    return findings


def _per_seed(values, spec):
    return " / ".join("–" if value is None else format(value, spec) for value in values)


def _per_seed_pairs(runs, key, joiner):
    return " / ".join(joiner.join(_per_seed([value], ".2f") for value in run[key]) for run in runs)


def _shared_input_finding(runs):
    shared = [run["shared_input_l1_at_init"] for run in runs]
    if all(value is None for value in shared):
        return "(The shared part of the Dense input was not recorded in this file: scripts/shared_input_at_init.py measures it.) "
    return (
        f"L1 norm of the mean Dense input over the validation probe (the part every post shares) at init: "
        f"{_per_seed(shared, '.0f')}; times Adam's learning rate 0.001 it bounds how far the first step can shift "
        "a hidden unit's pre-activation in the same direction for every post. "
    )


def _variant_finding(variant, runs, chance_threshold):
    seeds = ", ".join(str(run["seed"]) for run in runs)
    pre_activation = " → ".join(
        f"{_per_seed([run['pre_activation_mean'].get(label) for run in runs], '.2f')} ({name})"
        for label, name in (("init", "init"), ("s1", "step 1"), ("s10", "step 10"), ("s100", "step 100"))
    )
    left = [run["first_epoch_above_chance"] for run in runs]
    return (
        f"- **{variant}** (seeds {seeds}; values per seed). Padding row's share of the embedding gradient at "
        f"init: {_per_seed([run['padding_share_at_init'] for run in runs], '.2f')}. {_shared_input_finding(runs)}"
        f"The pre-activations' std after step 1: {_per_seed([run['pre_activation_std_after_step_1'] for run in runs], '.2f')}. "
        f"Mean hidden pre-activation: "
        f"{pre_activation}. Largest share of dead ReLUs during epoch 1: "
        f"{_per_seed([run['most_dead'] for run in runs], '.2f')} (at {' / '.join(run['most_dead_at'] for run in runs)}); "
        f"smallest embedding-gradient norm: {_per_seed([run['smallest_gradient_norm'] for run in runs], '.2g')}. "
        f"Padding vector's norm from init to the end: {_per_seed_pairs(runs, 'padding_norm', ' → ')}; its nearest "
        f"word's cosine at init: {_per_seed([run['nearest_cosine'][0] for run in runs], '.2f')}. Dense kernel norm "
        f"of mostly-padded vs mostly-real positions at the end: "
        f"{_per_seed_pairs(runs, 'kernel_norms_at_end', ' vs ')}. "
        f"First epoch at or above {chance_threshold:g} validation accuracy: "
        f"{' / '.join('never' if epoch is None else str(epoch) for epoch in left)}; accuracy by epoch: "
        f"{' / '.join(', '.join(f'{a:.2f}' for a in run['val_accuracy']) for run in runs)}."
    )


def why_markdown(
    records,
    plot_name=results.DIAGNOSTICS_PLOT_FILE,
    table_name=results.DIAGNOSTICS_TABLE_FILE,
    chance_threshold=0.1,
    left_out=(),
):
    """The report's "Why" section: each variant's measured findings, with the plot and the full table linked.

    Args:
        records: lines of a `diagnostics.jsonl`, of finished runs.
        plot_name, table_name: the plot and table, relative to the report.
        chance_threshold: as in `run_findings`.
        left_out: (variant, seed) pairs whose lines were left out, said so under the findings.
    """
    findings = run_findings(records, chance_threshold)
    variants = list(dict.fromkeys(run["variant"] for run in findings))
    steps = sorted({r["step"] for r in records if r["step"]})
    lines = [
        "## Why: what the diagnostics measured",
        "",
        "Measured by `padzero_study.diagnostics.recorder.DiagnosticsRecorder` on fixed probe posts (the gradient on training "
        "posts, the hidden layer on validation posts) before training, after steps "
        f"{', '.join(map(str, steps)) or '(none)'} of epoch 1 and after every epoch. A ReLU unit is dead when it "
        "is never positive on the validation probe; mostly-padded positions are those where more than half of the "
        f"training posts hold padding. Every number per checkpoint is in [{table_name}]({table_name}).",
        "",
        f"![Diagnostics per checkpoint]({plot_name})",
        "",
        *(
            _variant_finding(variant, [run for run in findings if run["variant"] == variant], chance_threshold)
            for variant in variants
        ),
        *(
            ["", "Not finished, left out: " + ", ".join(f"{variant} seed {seed}" for variant, seed in left_out) + "."]
            if left_out
            else []
        ),
        "",
    ]
    return "\n".join(lines)


def build_report_with_diagnostics(run_dir, results_paths=None):
    """`padzero_study.reports.study_report.build_report`, plus, when the folder holds a `diagnostics.jsonl`, its plot,
    its table and a "Why" section at the end of `report.md`.

    Args:
        run_dir: the folder, or its `StudyFolder` (read once, handed down).
        results_paths: the results files that say which runs finished; default the folder's own.

    Returns:
        The paths written: `build_report`'s, and `diagnostics_plot`, `diagnostics_table`.
    """
    folder = results.as_folder(run_dir, results_paths)
    if not folder.has(results.DIAGNOSTICS_FILE):
        written = report.build_report(folder)
        _remove_stale_diagnostics(folder.path)
        return written
    finished, left_out = folder.finished_diagnostics()
    written = report.build_report(folder, appendix=why_markdown(finished, left_out=left_out))
    return {
        **written,
        "diagnostics_plot": plot_diagnostics(folder.diagnostics, folder.path / results.DIAGNOSTICS_PLOT_FILE),
        "diagnostics_table": write_diagnostics_table(folder.diagnostics, folder.path / results.DIAGNOSTICS_TABLE_FILE),
    }


DIAGNOSTICS_OUTPUTS = (results.DIAGNOSTICS_PLOT_FILE, results.DIAGNOSTICS_TABLE_FILE)


def _remove_stale_diagnostics(run_dir):
    """Removes a diagnostics plot and table left beside no `diagnostics.jsonl`: they describe records gone."""
    for name in DIAGNOSTICS_OUTPUTS:
        path = run_dir / name
        if files.check_own_file(path, must_exist=False):
            path.unlink()
            logger.warning(
                "removed %s: %s is gone, so it described records that no longer exist", path, results.DIAGNOSTICS_FILE
            )


def write_comparison(run_dirs, out_dir, chance_threshold=0.1):
    """Puts several diagnose runs (the ablations) side by side: `comparison.md` and `comparison.png`.

    Args:
        run_dirs: diagnose run folders, each with a `diagnostics.jsonl` and its
            results; a run is named by its folder's name. Runs that have not
            finished are left out (and listed under the table).
        out_dir: where to write the two files.
        chance_threshold: as in `run_findings`.

    Returns:
        The two paths written.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    # tab20's dark shades first, then its light ones: 10 clearly distinct lines, 20 in all.
    palette = [colormaps["tab20"](index) for index in (*range(0, 20, 2), *range(1, 20, 2))]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "| run | variant | seed | padding share of the gradient at init | shared input L1 at init "
        "| pre-activation std after step 1 | pre-activation mean: init → step 10 → step 100 "
        "| most dead ReLUs in epoch 1 | padding norm: init → end | first epoch ≥ "
        f"{chance_threshold:g} | validation accuracy by epoch |",
        "|---|---|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    figure = Figure(figsize=(12, 4.2), layout="constrained")
    pre_axis, accuracy_axis = figure.subplots(1, 2)
    colours = {}  # one colour per (run, variant); its seeds share it
    left_out = []
    for run_dir in map(Path, run_dirs):
        records, unfinished = finished_diagnostics(run_dir)
        left_out += [f"{run_dir.name}: {variant} seed {seed}" for variant, seed in unfinished]
        for found in run_findings(records, chance_threshold):
            pre = " → ".join(
                _per_seed([found["pre_activation_mean"].get(label)], ".2f") for label in ("init", "s10", "s100")
            )
            lines.append(
                f"| {run_dir.name} | {found['variant']} | {found['seed']} | {_per_seed([found['padding_share_at_init']], '.2f')} "
                f"| {_per_seed([found['shared_input_l1_at_init']], '.0f')} | {_per_seed([found['pre_activation_std_after_step_1']], '.2f')} | {pre} "
                f"| {found['most_dead']:.2f} ({found['most_dead_at']}) | {_per_seed_pairs([found], 'padding_norm', ' → ')} "
                f"| {found['first_epoch_above_chance'] or 'never'} | {', '.join(f'{a:.2f}' for a in found['val_accuracy'])} |"
            )
        for (variant, _seed), run in runs_of(records).items():
            label = f"{run_dir.name}: {variant}"
            first_seed = label not in colours
            colour = colours.setdefault(label, palette[len(colours) % len(palette)])
            first_epoch = [r for r in run if r["step"] is not None]
            pre_axis.plot(
                [r["step"] for r in first_epoch],
                [r["pre_activation_mean"] for r in first_epoch],
                marker=".",
                color=colour,
                alpha=0.8,
                label=label if first_seed else None,
            )
            epochs = [r for r in run if r["step"] is None and r.get("val_accuracy") is not None]
            accuracy_axis.plot(
                [r["epoch"] for r in epochs], [r["val_accuracy"] for r in epochs], marker=".", color=colour, alpha=0.8
            )
    pre_axis.set_xscale("symlog", linthresh=1)
    pre_axis.set(title="mean hidden pre-activation, epoch 1", xlabel="training step (symlog)")
    accuracy_axis.set(title="validation accuracy", xlabel="epoch")
    accuracy_axis.axhline(chance_threshold, color="grey", linestyle=":", label=f"chance threshold {chance_threshold:g}")
    for axis in (pre_axis, accuracy_axis):
        axis.grid(alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8)
    if left_out:
        lines += ["", f"Left out, not finished: {', '.join(left_out)}."]
    paths = out_dir / "comparison.md", out_dir / "comparison.png"
    files.write_own_file(paths[0], "\n".join(lines) + "\n")
    with files.replacing_file(paths[1], "wb") as file:
        figure.savefig(file, format="png", dpi=110)
    return paths
