"""Tests for `padzero_study.study.interrupts`: Ctrl-C in the middle of an epoch stops `reproduce` and `diagnose`."""

import json
import os
import signal
import threading
import time

import pytest

from padzero_study import cli

pytestmark = pytest.mark.per_backend

# Enough posts that an epoch lasts a second or more, so that a SIGINT sent half a second after the first epoch's
# line is written lands in the middle of the second epoch.
FLAGS = [
    "--dataset",
    "synthetic",
    "--max-docs",
    "6000",
    "--maxlen",
    "100",
    "--vocab-size",
    "500",
    "--seeds",
    "1",
    "--epochs",
    "30",
    "--variants",
    "padzero",
]


def sigint_after_first_epoch(results, sent):
    """Sends this process a SIGINT half a second after `results` holds an epoch line; notes when in `sent`."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if results.exists() and '"record": "epoch"' in results.read_text():
            time.sleep(0.5)
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)
            return
        time.sleep(0.01)


@pytest.fixture
def python_sigint_handler():
    """Python's own SIGINT handler for the test, as in a terminal: a shell that starts the suite in the background
    hands it SIGINT ignored, and `sigint_noted` leaves an ignored SIGINT ignored."""
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, saved)


# The fast path (JAX's default) stops through the same callback as the plain layers: not run again here, for its
# compile time.
@pytest.mark.parametrize("command, path", [("reproduce", "plain"), ("diagnose", "default")])
def test_sigint_mid_epoch_stops_within_seconds_and_keeps_whole_records(
    command, path, tmp_path, capsys, backend, python_sigint_handler
):
    # It was lost on JAX inside Keras's pythonify_logs (a bare except:), and training went on to the run's end.
    results = tmp_path / "results.jsonl"
    sent = []
    watcher = threading.Thread(target=sigint_after_first_epoch, args=(results, sent), daemon=True)
    watcher.start()
    flags = [*FLAGS, "--backend", backend, "--out", str(tmp_path)] + (["--plain"] if path == "plain" else [])
    code = cli.main([command, *flags])
    stopped = time.monotonic()
    watcher.join()
    assert sent, "no epoch line was written"
    assert code == 130 and "padzero: interrupted" in capsys.readouterr().err
    assert stopped - sent[0] < 10
    records = [json.loads(line) for line in results.read_text().splitlines()]  # every line whole
    assert [r["record"] for r in records] == ["epoch"] * len(records)
    assert len(records) < 3  # it stopped in the second epoch, or at the latest as the second ended
