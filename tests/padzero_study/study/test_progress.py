"""Tests for padzero_study.study.progress: the ETA from what is known, the throttle, the bar and the log lines."""

import logging

import pytest

from padzero_study.study import progress as progress_module

pytestmark = pytest.mark.per_backend  # StepProgress is a Keras callback


def test_progress_eta_uses_the_run_lengths_seen_so_far():
    from padzero_study.wording import format_duration

    progress = progress_module.StudyProgress(runs=4, max_epochs=30, patience=5)
    assert progress.eta() == "unknown until an epoch ends"
    progress.epoch_done(60.0)  # no finished run yet: only the bounds are known, said as bounds
    longest, shortest = (29 + 3 * 30) * 60, (5 + 3 * 6) * 60  # early stopping: no run ends before 6 epochs
    assert progress.eta() == (
        f"at most {format_duration(longest)} (at least {format_duration(shortest)}: "
        "early stopping ends no run before 6 epochs)"
    )
    for _ in range(9):
        progress.epoch_done(60.0)
    progress.run_done()  # a 10-epoch run: now 10 epochs a run are expected, 30 the bound
    progress.epoch_done(60.0)
    assert progress.eta() == (
        f"~{format_duration((9 + 2 * 10) * 60)} (at most "
        f"{format_duration((29 + 2 * 30) * 60)} if every run lasts 30 epochs)"
    )


def test_first_eta_comes_from_the_runs_already_in_the_folder():
    # Before any epoch of this process: the folder's finished runs give the run length and the epoch time.
    progress = progress_module.StudyProgress(
        runs=3, max_epochs=30, patience=5, known_run_epochs=[12, 8], known_epoch_seconds=[30.0, 30.0]
    )
    assert progress.eta().startswith("~15 min (at most 45 min")


def test_throttle_is_due_once_per_interval():
    now = [100.0]
    throttle = progress_module.Throttle(30, clock=lambda: now[0])
    due = []
    for second in range(0, 95, 5):
        now[0] = 100.0 + second
        due.append(throttle.due())
    assert [5 * index for index, flag in enumerate(due) if flag] == [30, 60, 90]


class FakeStream:
    def __init__(self, terminal):
        self.terminal, self.text = terminal, ""

    def isatty(self):
        return self.terminal

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_step_progress_logs_a_line_every_30_seconds_off_a_terminal(caplog):
    now = [0.0]
    progress = progress_module.StudyProgress(runs=1, max_epochs=3, patience=5)
    callback = progress_module.StepProgress("padzero seed 0", progress, stream=FakeStream(False), clock=lambda: now[0])
    callback.set_params({"steps": 100, "epochs": 3})
    callback.on_epoch_begin(0)
    with caplog.at_level(logging.INFO, logger="padzero"):
        for step in range(100):
            now[0] = step * 1.0  # a second a step: 100 s in the epoch
            callback.on_train_batch_end(step, {"loss": 2.5})
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3  # at 30, 60 and 90 s
    # Before any epoch has ended, the first epoch's pace so far gives the estimate: 31 steps in 30 s,
    # so about 97 s an epoch and 2.69 epochs left of this 3-epoch run.
    assert lines[0] == "padzero seed 0 epoch 1: step 31/100, loss 2.5000 | study ETA ~4 min"


def test_step_progress_draws_in_place_on_a_terminal_and_clears_before_the_epoch_line(caplog):
    now = [0.0]
    stream = FakeStream(True)
    callback = progress_module.StepProgress(
        "baseline seed 1", progress_module.StudyProgress(1, 3, 5), stream=stream, clock=lambda: now[0]
    )
    callback.set_params({"steps": 10, "epochs": 3})
    callback.on_epoch_begin(0)
    with caplog.at_level(logging.INFO, logger="padzero"):
        for step in range(10):
            now[0] = step * 1.0
            callback.on_train_batch_end(step, {"loss": 1.0})
    callback.on_epoch_end(0)
    assert "\n" not in stream.text and stream.text.count("\r") == 10  # 9 draws, one clearing
    assert "baseline seed 1 epoch 1 [==================  ] step 9/10" in stream.text
    assert stream.text.endswith("\r\x1b[K") and not caplog.records


def test_each_variant_is_timed_by_its_own_epochs():
    # An encoder study: a cnn run, then two LSTM runs whose epochs take ten times as long.
    progress = progress_module.StudyProgress(runs=3, max_epochs=2, patience=5, run_variants=["cnn", "lstm", "lstm"])
    progress.epoch_done(6.0)
    progress.epoch_done(6.0)
    progress.run_done()
    # An LSTM epoch is not a cnn epoch: left out and said to be unknown, never counted at the mean so far.
    assert progress.seconds_left(2) == 0.0
    assert progress.eta() == "unknown until an epoch of lstm is timed"
    progress.epoch_done(60.0)
    assert progress.seconds_left(2) == 60.0 * (1 + 2)  # not the mean of all epochs so far, 24 s
    assert "no epoch timed yet" not in progress.eta()
