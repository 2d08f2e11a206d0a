"""The encoder study's report, from records written by hand: the grid, the verdicts and the plot."""

import json

from padzero_study import results
from padzero_study.reports import encoders_report, folder_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_records(variant, seed, val_accuracies, epoch_seconds=2.0):
    identity = {
        "variant": variant,
        "seed": seed,
        "backend": "jax",
        "config": {"dataset": "20news", "num_classes": 20, "epochs": 30},
    }
    records = [
        {"record": "epoch", **identity, "epoch": epoch, "val_accuracy": accuracy, "epoch_seconds": epoch_seconds}
        for epoch, accuracy in enumerate(val_accuracies, start=1)
    ]
    return records + [
        {
            "record": "run_end",
            **identity,
            "epochs_run": len(val_accuracies),
            "train_seconds": epoch_seconds * len(val_accuracies),
        }
    ]


# cnn: the trainable vector holds epoch 1 back at chance on every seed; zero padding learns at once.
# average: within the seeds' spread either way, and the mask raises the best epoch.
CURVES = {
    "cnn/keras": [[0.05, 0.80], [0.06, 0.82], [0.05, 0.81]],
    "cnn/keras_mask": [[0.05, 0.80], [0.06, 0.82], [0.05, 0.81]],
    "cnn/padzero": [[0.70, 0.82], [0.72, 0.83], [0.71, 0.80]],
    "cnn/padzero_mask": [[0.70, 0.82], [0.72, 0.83], [0.71, 0.80]],
    "average/keras": [[0.50, 0.70], [0.55, 0.72], [0.52, 0.71]],
    "average/padzero": [[0.51, 0.70], [0.54, 0.71], [0.56, 0.72]],
    "average/padzero_mask": [[0.60, 0.80], [0.61, 0.81], [0.62, 0.82]],
}


def encoder_study(tmp_path):
    records = [
        record
        for variant, seeds in CURVES.items()
        for seed, curve in enumerate(seeds)
        for record in run_records(variant, seed, curve)
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    (tmp_path / "config.json").write_text(json.dumps({"run_settings": {}, "device": "NVIDIA H200"}))
    return records


def test_the_verdicts_name_what_is_beyond_the_seeds_spread_and_what_fixes_it(tmp_path):
    records = encoder_study(tmp_path)
    markdown = encoders_report.encoders_markdown(records, results.StudyFolder(tmp_path))
    cnn = next(line for line in markdown.splitlines() if line.startswith("- **cnn**"))
    assert "it lowers epoch-1 val acc beyond the seeds' spread" in cnn
    assert "fixed by `padzero`, `padzero_mask`" in cnn and "best val acc stays within" in cnn
    assert "cnn drops the mask, so mask_zero changes nothing" in cnn
    average = next(line for line in markdown.splitlines() if line.startswith("- **average**"))
    assert "epoch-1 val acc stays within the seeds' spread" in average
    assert "The mask (`padzero_mask` against `padzero`) raises epoch-1 val acc to 0.610 (0.600–0.620)" in average
    assert "on NVIDIA H200" in markdown
    # Encoders in registry order, each row's cells in the embeddings' order; a cell not run says so.
    rows = [line for line in markdown.splitlines() if line.startswith("| average") or line.startswith("| cnn")]
    assert rows[0].startswith("| average | uses it |") and "not run" in rows[0]
    assert rows[1].startswith("| cnn | drops it | 0.053 (0.050–0.060) / 0.810 (0.800–0.820) |")


def test_encoders_without_results_are_named_as_waiting_with_their_cost(tmp_path):
    markdown = encoders_report.encoders_markdown(encoder_study(tmp_path), results.StudyFolder(tmp_path))
    waiting = [line for line in markdown.splitlines() if "waiting: no finished run yet" in line]
    assert [line.split("**")[1] for line in waiting] == ["flatten", "lstm", "transformer"]
    # 4 embeddings x 2 paddings x 3 seeds at the folder's 2 epochs a run, ~3.9 min an epoch on a CPU.
    lstm = waiting[1]
    assert "Its 24 runs at ~2 epochs each would take about 3 h on a 2 vCPU CPU (~4 min an epoch" in lstm


def test_one_seed_is_too_few_to_judge():
    records = [r for variant in ("cnn/keras", "cnn/padzero") for r in run_records(variant, 0, [0.05, 0.8])]
    (line,) = [
        line
        for line in encoders_report.encoders_markdown(records, results.StudyFolder("nowhere")).splitlines()
        if line.startswith("- **cnn**")
    ]
    assert "one seed per embedding" in line


def test_the_folder_report_of_an_encoder_study_has_the_grid_and_its_plot(tmp_path):
    encoder_study(tmp_path)
    written = folder_report.write_report(tmp_path)
    assert written["encoders_plot"].read_bytes().startswith(PNG_SIGNATURE)
    report = (tmp_path / "report.md").read_text()
    assert "## Encoders: does padding hurt other models?" in report and "](encoders.png)" in report


def test_a_padding_study_folder_gets_no_encoder_section(tmp_path):
    records = run_records("baseline", 0, [0.05, 0.8]) + run_records("padzero", 0, [0.7, 0.8])
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    written = folder_report.write_report(tmp_path)
    assert "encoders_plot" not in written and "## Encoders" not in (tmp_path / "report.md").read_text()
    assert not encoders_report.is_encoder_study(records)


def test_seconds_per_epoch_leave_out_the_first_epoch_which_compiles():
    records = run_records("cnn/keras", 0, [0.1, 0.2, 0.3]) + run_records("cnn/keras", 1, [0.1])
    for record in records:
        if record["record"] == "epoch" and record["seed"] == 0:
            record["epoch_seconds"] = {1: 30.0, 2: 2.0, 3: 4.0}[record["epoch"]]
    assert encoders_report.steady_epoch_seconds(records) == {"cnn/keras": (3.0 + 2.0) / 2}
