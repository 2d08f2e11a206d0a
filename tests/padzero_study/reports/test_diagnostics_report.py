"""padzero_study.reports.diagnostics_report: the Why section's numbers come from the right checkpoints."""

import json

from padzero_study.files import FileError
from padzero_study.reports.diagnostics_report import (
    checkpoint_label,
    finished_diagnostics,
    run_findings,
    why_markdown,
    write_comparison,
)


def checkpoint(
    variant,
    seed,
    *,
    step=None,
    epoch=1,
    pre=0.0,
    dead=0.0,
    gradient=1.0,
    padding_norm=0.5,
    cosine=0.2,
    val_accuracy=None,
    kernel=(1.0, 2.0),
    share=0.5,
    shared_input=None,
    std=1.0,
):
    record = {
        "variant": variant,
        "seed": seed,
        "epoch": epoch,
        "step": step,
        "padding_gradient_share": share,
        "table_gradient_norm": gradient,
        "padding_norm": padding_norm,
        "word_norm_mean": 0.5,
        "padding_nearest_words": [["word", cosine]] if padding_norm else [],
        "dead_unit_fraction": dead,
        "pre_activation_mean": pre,
        "pre_activation_std": std,
        "val_accuracy": val_accuracy,
        "kernel_norms": {"padding_positions": kernel[0], "real_positions": kernel[1]},
    }
    if shared_input is not None:  # files written before it was measured lack it
        record["shared_input_l1"] = shared_input
    return record


def stalled_then_escaped(seed=0):
    """A run whose ReLUs die at step 10 and which leaves chance at epoch 3, written out of order."""
    return [
        checkpoint("baseline", seed, step=None, epoch=3, val_accuracy=0.4, padding_norm=0.05, kernel=(3.0, 5.0)),
        checkpoint("baseline", seed, step=0, epoch=0, pre=0.01, share=0.93, cosine=0.25, shared_input=7000.0),
        checkpoint("baseline", seed, step=10, epoch=0, pre=-15.0, dead=0.9, gradient=0.001),
        checkpoint("baseline", seed, step=1, epoch=0, pre=-0.6, share=1.0, gradient=13.0, std=6.0),
        checkpoint("baseline", seed, step=None, epoch=1, val_accuracy=0.05, dead=0.4, gradient=0.002),
        checkpoint("baseline", seed, step=None, epoch=2, val_accuracy=0.06, dead=0.95, gradient=0.0),
    ]


def test_checkpoint_labels():
    assert [checkpoint_label({"step": s, "epoch": e}) for s, e in [(0, 0), (10, 0), (None, 3)]] == ["init", "s10", "e3"]


def test_run_findings_take_each_number_from_its_checkpoint():
    (found,) = run_findings(stalled_then_escaped())
    assert found["padding_share_at_init"] == 0.93
    assert (found["shared_input_l1_at_init"], found["pre_activation_std_after_step_1"]) == (7000.0, 6.0)
    assert found["pre_activation_mean"] == {"init": 0.01, "s1": -0.6, "s10": -15.0}  # no step 100 recorded
    # Epoch 1 ends with the "e1" checkpoint; epoch 2's 0.95 dead and zero gradient are later.
    assert (found["most_dead"], found["most_dead_at"]) == (0.9, "s10")
    assert found["smallest_gradient_norm"] == 0.001
    assert found["padding_norm"] == (0.5, 0.05)
    assert found["nearest_cosine"] == (0.25, 0.2)
    assert found["kernel_norms_at_end"] == (3.0, 5.0)
    assert found["first_epoch_above_chance"] == 3
    assert found["val_accuracy"] == [0.05, 0.06, 0.4]


def test_a_zero_padding_vector_has_no_nearest_word_and_a_run_at_chance_never_leaves_it():
    run = [
        checkpoint("padzero", 0, step=0, epoch=0, padding_norm=0.0),
        checkpoint("padzero", 0, epoch=1, padding_norm=0.0, val_accuracy=0.09),
    ]
    (found,) = run_findings(run, chance_threshold=0.1)
    assert found["nearest_cosine"] == (None, None)
    assert found["shared_input_l1_at_init"] is None and found["pre_activation_std_after_step_1"] is None
    pooled = [{key: value for key, value in record.items() if key != "kernel_norms"} for record in run]
    assert run_findings(pooled)[0]["kernel_norms_at_end"] == (None, None)  # masked_average has no per-position kernel
    assert found["first_epoch_above_chance"] is None
    assert run_findings(run, chance_threshold=0.05)[0]["first_epoch_above_chance"] == 1


def test_why_section_states_each_variant_per_seed_and_links_the_plot():
    records = (
        stalled_then_escaped(0)
        + stalled_then_escaped(1)
        + [
            checkpoint("padzero", 0, step=0, epoch=0, padding_norm=0.0, share=0.0),
            checkpoint("padzero", 0, epoch=1, padding_norm=0.0, share=0.0, val_accuracy=0.85),
        ]
    )
    text = why_markdown(records, plot_name="diagnostics.png")
    assert "![Diagnostics per checkpoint](diagnostics.png)" in text
    baseline_line = next(line for line in text.splitlines() if line.startswith("- **baseline**"))
    assert "seeds 0, 1" in baseline_line and "0.93 / 0.93" in baseline_line
    assert "-15.00 / -15.00 (step 10)" in baseline_line and "0.50 → 0.05" in baseline_line
    assert "First epoch at or above 0.1 validation accuracy: 3 / 3" in baseline_line
    padzero_line = next(line for line in text.splitlines() if line.startswith("- **padzero**"))
    assert "nearest word's cosine at init: –" in padzero_line and "accuracy by epoch: 0.85" in padzero_line


def write_run_folder(folder, records, finished):
    """A diagnose folder: its diagnostics lines, and results with a run_end line for each finished (variant, seed)."""
    folder.mkdir()
    (folder / "diagnostics.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    ends = [
        {"record": "run_end", "variant": variant, "seed": seed, "backend": "jax", "epochs_run": 3}
        for variant, seed in finished
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(end) + "\n" for end in ends))
    return folder


def test_comparison_has_a_row_per_finished_run_named_by_its_folder_and_a_plot(tmp_path):
    folders = [
        write_run_folder(tmp_path / "default", stalled_then_escaped(0), [("baseline", 0)]),
        write_run_folder(tmp_path / "maxlen-300", stalled_then_escaped(0) + stalled_then_escaped(1), [("baseline", 0)]),
    ]
    table_path, plot_path = write_comparison(folders, tmp_path / "out")
    table = table_path.read_text().splitlines()
    rows = [row for row in table[2:] if row.startswith("|")]
    assert [row.split(" | ")[:3] for row in rows] == [["| default", "baseline", "0"], ["| maxlen-300", "baseline", "0"]]
    assert "| 7000 | 6.00 | 0.01 → -15.00 → – |" in rows[0] and "| 0.05, 0.06, 0.40 |" in rows[0]
    assert table[-1] == "Left out, not finished: maxlen-300: baseline seed 1."  # still running
    assert plot_path.stat().st_size > 0


def test_finished_diagnostics_keeps_runs_with_a_run_end(tmp_path):
    folder = write_run_folder(tmp_path / "run", stalled_then_escaped(0) + stalled_then_escaped(1), [("baseline", 1)])
    records, left_out = finished_diagnostics(folder)
    assert {r["seed"] for r in records} == {1} and left_out == [("baseline", 0)]


def test_findings_tolerate_missing_values():
    # No init line, a zero gradient (share None), an epoch without val_accuracy: nothing crashes or is made up.
    run = [
        checkpoint("baseline", 0, step=1, epoch=0, share=None),
        checkpoint("baseline", 0, epoch=1, val_accuracy=None),
    ]
    (found,) = run_findings(run)
    assert found["padding_share_at_init"] is None and found["pre_activation_mean"] == {"s1": 0.0}
    assert found["val_accuracy"] == [] and found["first_epoch_above_chance"] is None
    assert "- **baseline**" in why_markdown(run)


def test_a_cut_last_line_is_skipped_and_garbage_is_named(tmp_path):
    import pytest

    from padzero_study.reports.diagnostics_report import build_report_with_diagnostics

    folder = _diagnose_folder(tmp_path)
    diagnostics = folder / "diagnostics.jsonl"
    complete = diagnostics.read_text()
    diagnostics.write_text(complete + '{"variant": "baseline", "se')  # a diagnose run killed mid-line
    written = build_report_with_diagnostics(folder)
    assert "- **baseline** (seeds 0;" in written["report_markdown"].read_text()
    diagnostics.write_text(complete + "garbage\n")
    with pytest.raises(FileError, match=r"diagnostics\.jsonl line 7 is not valid JSON") as error:
        build_report_with_diagnostics(folder)
    assert "\n" not in str(error.value)
    diagnostics.write_text(complete)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    with pytest.raises(FileError, match="No results records"):
        build_report_with_diagnostics(folder, results_paths=[empty])
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


def _diagnose_folder(tmp_path):
    from padzero_study import results

    folder = write_run_folder(tmp_path / "run", stalled_then_escaped(0), [("baseline", 0)])
    for record in stalled_then_escaped(0):  # the runner writes epoch lines beside the run_end
        if record["step"] is None:
            results.append_record(
                folder / "results.jsonl",
                {
                    "record": "epoch",
                    "variant": "baseline",
                    "seed": 0,
                    "backend": "jax",
                    "epoch": record["epoch"],
                    "val_accuracy": record["val_accuracy"],
                },
            )
    return folder


def test_a_report_without_diagnostics_lines_removes_the_stale_plot_and_table(tmp_path, caplog):
    from padzero_study.reports.diagnostics_report import build_report_with_diagnostics
    from padzero_study.results import StudyFolder

    folder = _diagnose_folder(tmp_path)
    written = build_report_with_diagnostics(folder)
    assert written["diagnostics_plot"].exists() and written["diagnostics_table"].exists()
    assert StudyFolder(folder).missing_diagnostics() == []
    (folder / "diagnostics.jsonl").unlink()
    assert StudyFolder(folder).missing_diagnostics() == [("baseline", 0)]
    with caplog.at_level("WARNING", logger="padzero"):
        written = build_report_with_diagnostics(folder)
    assert "diagnostics_plot" not in written
    assert not (folder / "diagnostics.png").exists() and not (folder / "diagnostics.md").exists()
    assert "removed" in caplog.text and "diagnostics.jsonl is gone" in caplog.text


def test_diagnostics_outputs_are_not_written_through_links(tmp_path):
    import pytest

    from padzero_study.reports.diagnostics_report import build_report_with_diagnostics

    folder = _diagnose_folder(tmp_path)
    (folder / "diagnostics.md").symlink_to(tmp_path / "elsewhere.md")
    with pytest.raises(FileError, match=r"diagnostics\.md is a symbolic link"):
        build_report_with_diagnostics(folder)
    assert not (tmp_path / "elsewhere.md").exists()
