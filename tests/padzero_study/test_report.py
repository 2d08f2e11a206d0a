"""Tests for padzero_study.report: loading shards, summarizing, and the files build_report writes."""

import csv
import json
import logging
import math

import numpy as np
import pytest

from padzero_study import report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_run(variant, seed, val_accuracies, *, backend="jax", finished=True, epoch_seconds=10.0,
             num_classes=20, dataset="20news"):
    """Records the study runner would write for one run: an epoch record each, then run_end."""
    config = {"epochs": 30, "batch_size": 32, "maxlen": 1100, "vocab_size": 20000,
              "num_classes": num_classes, "dataset": dataset}
    identity = {"variant": variant, "seed": seed, "backend": backend, "config": config}
    records = [
        {"record": "epoch", **identity, "epoch": epoch, "loss": 1.0, "accuracy": 0.5,
         "val_loss": 1.0, "val_accuracy": accuracy, "epoch_seconds": epoch_seconds}
        for epoch, accuracy in enumerate(val_accuracies, start=1)
    ]
    if finished:
        records.append({"record": "run_end", **identity, "epochs_run": len(val_accuracies),
                        "stopped_early": False,
                        "train_seconds": epoch_seconds * len(val_accuracies)})
    return records


def write_jsonl(path, records, *, extra_text=""):
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + extra_text, encoding="utf-8")
    return path


BASELINE_CURVES = {
    0: [0.05, 0.06, 0.50, 0.80, 0.70],
    1: [0.04, 0.30, 0.85, 0.84, 0.83],
    2: [0.05, 0.05, 0.05, 0.05, 0.05],  # never leaves chance
}
MULTIPLY_CURVES = {0: [0.78, 0.88, 0.87], 1: [0.80, 0.86, 0.89]}


def study_records():
    records = []
    for seed, curve in BASELINE_CURVES.items():
        records += make_run("baseline", seed, curve, epoch_seconds=50.0 + seed)
    for seed, curve in MULTIPLY_CURVES.items():
        records += make_run("multiply", seed, curve)
    return records


def row_for(summary, variant):
    (row,) = [row for row in summary if row["variant"] == variant]
    return row


def test_summarize_matches_hand_computed_statistics():
    summary = report.summarize(study_records())
    baseline = row_for(summary, "baseline")
    curves = list(BASELINE_CURVES.values())
    epoch1 = [curve[0] for curve in curves]
    best = [max(curve) for curve in curves]
    assert baseline["seeds"] == 3
    assert baseline["epoch1_val_accuracy_mean"] == pytest.approx(np.mean(epoch1))
    assert baseline["epoch1_val_accuracy_std"] == pytest.approx(np.std(epoch1, ddof=1))
    assert baseline["best_val_accuracy_mean"] == pytest.approx(np.mean(best))
    assert baseline["best_val_accuracy_std"] == pytest.approx(np.std(best, ddof=1))
    # Best epochs by hand: 4, 3, and 1 (the first of five equal epochs).
    assert baseline["best_epoch_mean"] == pytest.approx((4 + 3 + 1) / 3)
    # Below 2 / 20 = 0.10: two epochs, one epoch, all five.
    assert baseline["epochs_at_chance_mean"] == pytest.approx((2 + 1 + 5) / 3)
    assert baseline["seeds_at_chance_at_epoch1"] == 3
    assert baseline["seeds_never_left_chance"] == 1
    assert baseline["seconds_per_epoch_mean"] == pytest.approx(51.0)
    assert baseline["epochs_run_mean"] == pytest.approx(5.0)
    assert baseline["chance_threshold"] == pytest.approx(0.10)
    multiply = row_for(summary, "multiply")
    assert multiply["epochs_at_chance_mean"] == 0
    assert multiply["seeds_at_chance_at_epoch1"] == 0
    assert multiply["best_epoch_mean"] == pytest.approx((2 + 3) / 2)
    assert [row["variant"] for row in summary] == ["baseline", "multiply"]
    assert set(summary[0]) == set(report.SUMMARY_COLUMNS)


def test_single_seed_std_is_nan_and_threshold_follows_num_classes():
    # 4 classes: the threshold is 2 / 4 = 0.5, and "at chance" means strictly below it.
    records = make_run("padzero", 0, [0.30, 0.50, 0.70], num_classes=4)
    (row,) = report.summarize(records)
    assert math.isnan(row["epoch1_val_accuracy_std"])
    assert row["chance_threshold"] == pytest.approx(2 / 4)
    assert row["epochs_at_chance_mean"] == 1
    # An explicit threshold overrides the config.
    (row,) = report.summarize(records, chance_threshold=0.65)
    assert row["epochs_at_chance_mean"] == 2


def test_summarize_rejects_a_threshold_outside_zero_one():
    with pytest.raises(ValueError, match="chance_threshold=1.5"):
        report.summarize(study_records(), chance_threshold=1.5)


def test_interrupted_runs_are_left_out_of_the_summary():
    complete = report.summarize(study_records())
    interrupted = make_run("baseline", 7, [0.9, 0.9], finished=False)
    with_interrupted = report.summarize(study_records() + interrupted)
    assert with_interrupted == complete


def test_load_results_merges_shards(tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", make_run("baseline", 0, BASELINE_CURVES[0]))
    second = write_jsonl(tmp_path / "b.jsonl", make_run("baseline", 1, BASELINE_CURVES[1]))
    records = report.load_results([first, second])
    assert len(records) == 2 * (5 + 1)
    (row,) = report.summarize(records)
    assert row["seeds"] == 2


def test_duplicate_records_across_shards_raise(tmp_path):
    run = make_run("baseline", 0, BASELINE_CURVES[0])
    first = write_jsonl(tmp_path / "a.jsonl", run)
    second = write_jsonl(tmp_path / "b.jsonl", run[:2])
    with pytest.raises(ValueError, match="duplicated") as error:
        report.load_results([first, second])
    assert "a.jsonl" in str(error.value) and "b.jsonl" in str(error.value)
    assert "'baseline'" in str(error.value)


def test_malformed_middle_line_raises_with_its_line_number(tmp_path):
    lines = [json.dumps(r) for r in make_run("baseline", 0, [0.05, 0.5])]
    lines.insert(1, '{"record": "epoch", "variant": ')
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"results\.jsonl line 2 "):
        report.load_results([path])


def test_record_missing_required_keys_raises(tmp_path):
    path = write_jsonl(tmp_path / "results.jsonl", [{"record": "epoch", "variant": "baseline"}])
    missing = r"\['seed', 'backend', 'epoch', 'val_accuracy'\]"
    with pytest.raises(ValueError, match=rf"results\.jsonl line 1 is missing keys {missing}"):
        report.load_results(path)


def test_truncated_final_line_is_skipped_and_counted(tmp_path, caplog):
    records = make_run("baseline", 0, [0.05, 0.5])
    path = write_jsonl(tmp_path / "results.jsonl", records, extra_text='{"record": "epoch", "vari')
    with caplog.at_level(logging.WARNING, logger="padzero_study.report"):
        assert report.load_results(path) == records
    assert "1 truncated" in caplog.text
    # The same broken text followed by a newline was written whole, so it is an error.
    write_jsonl(path, records, extra_text='{"record": "epoch", "vari\n')
    with pytest.raises(ValueError, match="line 4 "):
        report.load_results(path)


def test_build_report_writes_summary_plot_and_markdown(tmp_path):
    records = study_records() + make_run("padzero", 0, [0.81, 0.85])
    records += make_run("baseline", 9, [0.05, 0.05], finished=False)
    write_jsonl(tmp_path / "results.jsonl", records)
    paths = report.build_report(tmp_path)

    names = {path.name for path in paths.values()}
    assert names == {"summary.csv", "report.md", "learning_curves.png"}
    with open(paths["summary_csv"], newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert tuple(reader.fieldnames) == report.SUMMARY_COLUMNS
    assert [(row["variant"], int(row["seeds"])) for row in rows] == [
        ("baseline", 3), ("multiply", 2), ("padzero", 1)]
    assert float(rows[0]["best_val_accuracy_mean"]) == pytest.approx(np.mean([0.80, 0.85, 0.05]))

    png = paths["learning_curves"].read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000

    markdown = paths["report_markdown"].read_text(encoding="utf-8")
    for variant in ("baseline", "multiply", "padzero"):
        assert f"**{variant}**" in markdown
    for published in ("0.875", "0.775", "0.894"):
        assert published in markdown
    assert "1 run unfinished (running or interrupted), not included: baseline seed 9" in markdown
    assert "](learning_curves.png)" in markdown
    assert "not comparable" not in markdown


def test_build_report_merges_shard_files_by_default(tmp_path):
    write_jsonl(tmp_path / "results.jsonl", make_run("baseline", 0, BASELINE_CURVES[0]))
    write_jsonl(tmp_path / "results.shard-1-of-2.jsonl", make_run("baseline", 1, BASELINE_CURVES[1]))
    write_jsonl(tmp_path / "results.shard-2-of-2.jsonl", make_run("padzero", 0, [0.8, 0.9]))
    write_jsonl(tmp_path / "results.jsonl.tmp", make_run("baseline", 0, BASELINE_CURVES[0]))  # not a results file
    assert [path.name for path in report.find_results_files(tmp_path)] == [
        "results.jsonl", "results.shard-1-of-2.jsonl", "results.shard-2-of-2.jsonl"]
    paths = report.build_report(tmp_path)
    with open(paths["summary_csv"], newline="") as file:
        rows = list(csv.DictReader(file))
    assert [(row["variant"], int(row["seeds"])) for row in rows] == [("baseline", 2), ("padzero", 1)]


def test_report_verdicts_follow_the_seed_counts(tmp_path):
    # baseline: 2 of 3 seeds start at chance; multiply learns at once; padzero (no published
    # number) and uniform do the opposite of what is expected.
    records = make_run("baseline", 0, [0.05, 0.6]) + make_run("baseline", 1, [0.06, 0.7])
    records += make_run("baseline", 2, [0.40, 0.8]) + make_run("multiply", 0, [0.8, 0.9])
    records += make_run("padzero", 0, [0.04, 0.04]) + make_run("uniform", 0, [0.04, 0.5])
    path = tmp_path / "report.md"
    report.write_report_markdown(report.summarize(records), records, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    verdict = {variant: next(line for line in lines if line.startswith(f"- **{variant}**"))
               for variant in ("baseline", "multiply", "padzero", "uniform")}
    assert "partly reproduced: it starts at chance on 2 of 3 seeds" in verdict["baseline"]
    assert "— reproduced: it learns from the first epoch on 1 of 1 seeds" in verdict["multiply"]
    assert "no reference number" in verdict["padzero"]
    assert "not as expected: it learns from the first epoch on 0 of 1 seeds" in verdict["padzero"]
    assert "not reproduced: it never leaves chance on 0 of 1 seeds" in verdict["uniform"]
    assert "- No unfinished runs." in lines


def test_unknown_variant_and_synthetic_dataset(tmp_path):
    records = make_run("zz_new_idea", 0, [0.5, 0.6], dataset="synthetic")
    records += make_run("mask_zero", 0, [0.05, 0.5], dataset="synthetic")
    write_jsonl(tmp_path / "results.jsonl", records)
    paths = report.build_report(tmp_path)
    summary = report.summarize(records)
    assert [row["variant"] for row in summary] == ["mask_zero", "zz_new_idea"]
    markdown = paths["report_markdown"].read_text(encoding="utf-8")
    lines = markdown.splitlines()
    (unknown_line,) = [line for line in lines if line.startswith("- **zz_new_idea**")]
    assert "no reference number" in unknown_line
    assert "not comparable" in markdown
    assert "pattern only" in markdown


def test_build_report_with_no_complete_runs(tmp_path):
    write_jsonl(tmp_path / "results.jsonl", make_run("baseline", 0, [0.05], finished=False))
    paths = report.build_report(tmp_path)
    assert paths["learning_curves"].read_bytes().startswith(PNG_SIGNATURE)
    with open(paths["summary_csv"], newline="") as file:
        assert list(csv.DictReader(file)) == []
    assert "1 run unfinished (running or interrupted), not included: baseline seed 0 on jax (1 epoch)." in (
        paths["report_markdown"].read_text(encoding="utf-8"))


def test_rows_are_per_backend(tmp_path):
    records = make_run("padzero", 0, [0.8, 0.9], backend="torch")
    records += make_run("padzero", 0, [0.7, 0.8], backend="jax")
    summary = report.summarize(records)
    assert [(row["backend"], row["best_val_accuracy_mean"]) for row in summary] == [
        ("jax", pytest.approx(0.8)), ("torch", pytest.approx(0.9))]
    report.plot_learning_curves(records, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes().startswith(PNG_SIGNATURE)


def test_known_variants_come_first_in_study_order():
    names = ["aaa_unknown", "mask_zero", "padzero", "uniform", "uniform_nonneg", "baseline"]
    records = [record for name in names for record in make_run(name, 0, [0.5])]
    summary = report.summarize(records)
    assert [row["variant"] for row in summary] == [
        "baseline", "padzero", "uniform_nonneg", "uniform", "mask_zero", "aaa_unknown"]


def test_report_names_the_attempts_set_aside_in_interrupted_jsonl(tmp_path):
    write_jsonl(tmp_path / "results.jsonl", make_run("uniform", 1, [0.05, 0.3]))
    first = make_run("uniform", 1, [0.05, 0.05, 0.1], finished=False)
    second = make_run("uniform", 1, [0.05, 0.05], finished=False)
    other = make_run("baseline", 2, [0.05], finished=False)
    # A kill can cut the last line short: the attempts before it still count.
    write_jsonl(tmp_path / report.INTERRUPTED_FILE, first + other + second, extra_text='{"record": "ep')
    assert report.set_aside_attempts(tmp_path) == {("uniform", "jax", 1): [3, 2], ("baseline", "jax", 2): [1]}

    markdown = report.build_report(tmp_path)["report_markdown"].read_text(encoding="utf-8")
    assert ("- Earlier attempts killed half-way and redone from epoch 1 (their epochs are kept in interrupted.jsonl, not "
            "included): uniform seed 1 on jax (3 and 2 epochs); baseline seed 2 on jax (1 epoch).") in markdown
    with open(tmp_path / "summary.csv", newline="") as file:
        (row,) = csv.DictReader(file)
    assert float(row["best_val_accuracy_mean"]) == pytest.approx(0.3)  # only the finished attempt


def test_no_interrupted_file_means_no_set_aside_line(tmp_path):
    write_jsonl(tmp_path / "results.jsonl", make_run("uniform", 1, [0.05, 0.3]))
    assert report.set_aside_attempts(tmp_path) == {}
    assert "killed half-way" not in report.build_report(tmp_path)["report_markdown"].read_text(encoding="utf-8")


def test_report_states_the_total_training_time(tmp_path):
    # study_records: baseline seeds 0-2 run 5 epochs of 50, 51, 52 s, multiply seeds 0-1 3 epochs of 10 s: 825 s.
    records = study_records() + make_run("padzero", 0, [0.8], finished=False, epoch_seconds=999.0)
    path = tmp_path / "report.md"
    report.write_report_markdown(report.summarize(records), records, path)
    assert "- training time: 14 min over 5 finished runs" in path.read_text(encoding="utf-8")


def test_docstring_examples_run_as_written():
    import doctest

    failures, tried = doctest.testmod(report)
    assert tried > 0 and failures == 0
