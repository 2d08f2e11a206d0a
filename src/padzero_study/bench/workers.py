"""Worker processes, both ends: the driver starts one per measurement, and what runs in it measures.

The worker's side (`measure`, reached by `python -m padzero_study.bench
SETTINGS_JSON`): a layer measurement prints its rows; a model or bag case
builds and warms up, then times one pass per "run" line from the driver,
replying one JSON line each (`serve_case`). The driver's side: `run_measurement`
for a layer measurement, `CaseWorker` and `run_in_turn` for the kept-alive
model and bag cases, whose timed passes run in turn, round after round, so
that drift in the machine's speed hits every case alike.
"""

import contextlib
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from padzero_study.bench.bag import keras_bag_pass, torch_bag_pass
from padzero_study.bench.cases import NATIVE_BAG, TORCH_MODEL_CASES, BenchError
from padzero_study.bench.layer import time_layers
from padzero_study.bench.model import keras_model_epoch, torch_model_epoch
from padzero_study.runtime import machine

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------- in the worker process


def peak_memory_megabytes():
    """This process's peak resident memory. Linux's VmHWM starts afresh at exec; ru_maxrss would
    carry over the peak of the parent that spawned it (the driver, which may hold the data)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def measure_layer(settings):
    """Forward + backward of each layer case at the reference shapes, interleaved: a row per case, ms per call."""
    times = time_layers(settings)
    memory = peak_memory_megabytes()
    device = machine.training_device(settings["backend"])[1]
    return [{"case": case, "ms": ms, "peak_mb": memory, "device": device} for case, ms in times.items()]


def timed_pass(settings):
    """The function running one timed pass of a model or bag case, its step count, and facts for its row."""
    if settings["part"] == "bag":
        return (torch_bag_pass if settings["case"] == NATIVE_BAG else keras_bag_pass)(settings)
    epoch, steps = (torch_model_epoch if settings["case"] in TORCH_MODEL_CASES else keras_model_epoch)(settings)
    return epoch, steps, {}


def serve_case(settings, commands=sys.stdin, replies=sys.stdout):
    """A model or bag case's process: builds and warms up, then times one pass per "run" line until "done".

    Replies one JSON line per command: `{"ready": true, "device": ...}` (and
    the case's facts) once warmed up, `{"ms": ...}` (per step) after each
    run, `{"peak_mb": ...}` at the end.
    """
    run, steps, facts = timed_pass(settings)
    run()  # compiles every shape the timed passes meet

    def reply(message):
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    native = settings["case"] in (*TORCH_MODEL_CASES, NATIVE_BAG)
    reply({"ready": True, "device": machine.training_device("torch" if native else settings["backend"])[1], **facts})
    for command in commands:
        if command.strip() == "run":
            started = time.perf_counter()
            run()
            reply({"ms": (time.perf_counter() - started) / steps * 1e3})
        else:
            reply({"peak_mb": peak_memory_megabytes()})
            return


def measure(settings):
    """A worker process's work: a layer measurement's rows, or None once a model or bag case has served."""
    if settings["part"] == "layer":
        return measure_layer(settings)
    serve_case(settings)
    return None


# ---------------------------------------------------------------- in the driver


def _command(settings):
    return [sys.executable, "-m", "padzero_study.bench", json.dumps(settings)]


def _environment(settings):
    return {**os.environ, "KERAS_BACKEND": settings["backend"]}


def _name(settings):
    return "/".join(str(settings[key]) for key in ("part", "backend", "case", "measure") if key in settings)


def _failure(settings, stderr):
    last_lines = " | ".join(stderr.strip().splitlines()[-3:])
    return BenchError(f"measurement {_name(settings)} failed: {last_lines}")


def run_measurement(settings):
    """Runs one layer measurement in a fresh process; its rows."""
    completed = subprocess.run(
        _command(settings), env=_environment(settings), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise _failure(settings, completed.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


class CaseWorker:
    """One model or bag case's process, kept alive between its timed passes (see `serve_case`)."""

    def __init__(self, settings):
        self.settings = settings
        self.errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (kept open with the process; close() closes it)
        self.process = subprocess.Popen(
            _command(settings),
            env=_environment(settings),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )

    def ask(self, command):
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.errors.seek(0)
            raise _failure(self.settings, self.errors.read())
        return json.loads(line)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # a killed process's pipe may hold unsent bytes
                pipe.close()
        self.errors.close()


def run_in_turn(plan, settings):
    """Starts every case of `plan` (model or bag cases), then runs their timed passes in turn, `repeats` rounds.

    Returns:
        One row per case: its entry in `plan` with `ms` (the median per
        step), `peak_mb`, `device` and the facts the case replied with.
    """
    workers = []
    try:
        for number, case in enumerate(plan, start=1):
            logger.info("bench: warming up %d/%d: %s", number, len(plan), _name(case))
            worker = CaseWorker({**settings, **case})
            workers.append(worker)
            ready = worker.ask(None)  # built and compiled; then it waits for its turn
            worker.facts = {key: value for key, value in ready.items() if key != "ready"}
        times = [[] for _ in workers]
        for round_number in range(1, settings["repeats"] + 1):
            logger.info("bench: round %d/%d of %d cases", round_number, settings["repeats"], len(workers))
            for worker, case_times in zip(workers, times):
                case_times.append(worker.ask("run")["ms"])
        return [
            {**case, "ms": statistics.median(case_times), "peak_mb": worker.ask("done")["peak_mb"], **worker.facts}
            for case, worker, case_times in zip(plan, workers, times)
        ]
    finally:
        for worker in workers:
            worker.close()
