"""Progress of a study: where an epoch is, and how long the study has left.

A run shows progress within each epoch (`StepProgress`: an in-place bar on a
terminal, a log line every 30 s in a file) and after each epoch the study's
ETA (`StudyProgress`), estimated from what is known: this folder's finished
runs, an earlier study moved aside in it, and early stopping's patience.
"""

import logging
import sys
import time

import keras

from padzero_study import reference, results, wording
from padzero_study.files import FileError
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)


class Throttle:
    """Says `due()` at most once every `interval` seconds of `clock`; the first call is not due.

    Example:

    >>> now = [0.0]
    >>> throttle = Throttle(30, clock=lambda: now[0])
    >>> now[0] = 29; throttle.due()
    False
    >>> now[0] = 30; throttle.due(), throttle.due()
    (True, False)
    """

    def __init__(self, interval, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last = clock()

    def due(self):
        now = self.clock()
        if now - self.last < self.interval:
            return False
        self.last = now
        return True


class StudyProgress:
    """The study's time left, from what is known: epoch times, run lengths seen, early stopping's bounds.

    Run lengths are unknown until runs finish (early stopping ends them
    between `patience + 1` and `max_epochs` epochs), so the estimate is the
    mean length of the finished runs known (this process's, and those in
    the results folder), and beside it the upper bound of every remaining
    run lasting `max_epochs`. With no finished run yet, only the bounds
    are known, and said as bounds.

    Args:
        runs: number of runs to do.
        max_epochs: the config's epochs.
        patience: early stopping's patience: no run ends before `patience + 1` epochs.
        known_run_epochs: epochs of finished runs from earlier (the folder's records).
        known_epoch_seconds: epoch times from earlier runs of the same settings.
        run_variants: the variant of each run to do, in order, or None. Given, each run's epochs are
            timed by its own variant's epochs (an LSTM's epoch is not a Flatten model's), with
            `known_variant_seconds` ({variant: [seconds]}) from earlier; a variant not timed yet is left
            out of the estimate, which names it as unknown.

    Example:

    >>> progress = StudyProgress(runs=2, max_epochs=30, patience=5, known_epoch_seconds=[60.0])
    >>> progress.eta()
    'at most 1 h 00 min (at least 12 min: early stopping ends no run before 6 epochs)'
    >>> progress = StudyProgress(runs=2, max_epochs=30, patience=5, known_run_epochs=[10], known_epoch_seconds=[60.0])
    >>> progress.eta()
    '~20 min (at most 1 h 00 min if every run lasts 30 epochs)'
    >>> progress = StudyProgress(runs=2, max_epochs=30, patience=5, known_run_epochs=[10], known_epoch_seconds=[6.0],
    ...                          run_variants=["cnn/keras", "lstm/keras"], known_variant_seconds={"cnn/keras": [6.0]})
    >>> progress.eta()
    '~1 min (at most 3 min if every run lasts 30 epochs) for the cells timed so far, plus lstm/keras: no epoch timed yet, time unknown'
    """

    def __init__(
        self,
        runs,
        max_epochs,
        patience,
        known_run_epochs=(),
        known_epoch_seconds=(),
        run_variants=None,
        known_variant_seconds=None,
    ):
        self.runs_left = runs
        self.max_epochs = max_epochs
        self.shortest_run = min(patience + 1, max_epochs)
        self.known_epoch_seconds = list(known_epoch_seconds)
        self.epoch_seconds = []
        self.run_epochs = list(known_run_epochs)
        self.epochs_in_current_run = 0
        self.run_variants = list(run_variants) if run_variants is not None else None
        self.variant_seconds = {variant: list(seconds) for variant, seconds in (known_variant_seconds or {}).items()}

    def epoch_done(self, seconds):
        self.epoch_seconds.append(seconds)
        if self.run_variants is not None and self.runs_left:
            self.variant_seconds.setdefault(self._variants_left()[0], []).append(seconds)
        self.epochs_in_current_run += 1

    def _variants_left(self):
        return self.run_variants[len(self.run_variants) - self.runs_left :]

    def _untimed_variants(self, epoch_seconds_guess=None):
        """The variants left with no epoch timed; the current one counts as timed once its first epoch is."""
        if self.run_variants is None or not self.runs_left:
            return []
        current, *later = self._variants_left()
        untimed = [] if self.variant_seconds.get(current) or epoch_seconds_guess else [current]
        return list(dict.fromkeys(untimed + [v for v in later if not self.variant_seconds.get(v)]))

    def run_done(self):
        self.run_epochs.append(self.epochs_in_current_run)
        self.epochs_in_current_run = 0
        self.runs_left -= 1

    def seconds_left(self, epochs_per_run, epoch_share=0.0, epoch_seconds_guess=None):
        """Seconds left if every run left lasts `epochs_per_run` epochs; None while no epoch time is known.

        Args:
            epochs_per_run: the run length to assume.
            epoch_share: how much of the current epoch is done, in [0, 1].
            epoch_seconds_guess: an epoch's time measured within the first
                epoch, used until an epoch has ended.
        """
        # This process's epoch times once it has some, else the folder's, else the guess.
        timings = (
            self.epoch_seconds or self.known_epoch_seconds or ([epoch_seconds_guess] if epoch_seconds_guess else [])
        )
        if not timings or not self.runs_left:
            return None if not timings else 0.0
        current_left = max(epochs_per_run - self.epochs_in_current_run - epoch_share, 0)
        if self.run_variants is None:
            mean = sum(timings) / len(timings)
            return mean * (current_left + (self.runs_left - 1) * epochs_per_run)

        # An encoder's epoch can take a hundred times another's: a variant not timed yet is left out (the
        # estimate says so), never counted at the mean of the others.
        def per_epoch(variant, guess=None):
            seconds = self.variant_seconds.get(variant)
            return sum(seconds) / len(seconds) if seconds else (guess or 0.0)

        current, *later = self._variants_left()
        return per_epoch(current, epoch_seconds_guess) * current_left + sum(
            per_epoch(variant) * epochs_per_run for variant in later
        )

    def eta(self, epoch_share=0.0, epoch_seconds_guess=None):
        """The time left in words: an estimate with its upper bound, or the bounds alone (see `seconds_left`),
        and the variants left with no epoch timed yet."""
        estimate = self._eta(epoch_share, epoch_seconds_guess)
        untimed = self._untimed_variants(epoch_seconds_guess)
        if not untimed or estimate.startswith("unknown"):
            return estimate
        named = ", ".join(untimed[:3]) + (f" and {len(untimed) - 3} more" if len(untimed) > 3 else "")
        if set(untimed) >= set(self._variants_left()):
            return f"unknown until an epoch of {named} is timed"
        return f"{estimate} for the cells timed so far, plus {named}: no epoch timed yet, time unknown"

    def _eta(self, epoch_share, epoch_seconds_guess):
        def left(epochs_per_run):
            return self.seconds_left(epochs_per_run, epoch_share, epoch_seconds_guess)

        longest = left(self.max_epochs)
        if longest is None:
            return "unknown until an epoch ends"
        if self.run_epochs:
            typical = left(sum(self.run_epochs) / len(self.run_epochs))
            if longest - typical < 60:
                return _about(typical)
            return (
                f"{_about(typical)} (at most {wording.format_duration(longest)} "
                f"if every run lasts {count_of(self.max_epochs, 'epoch')})"
            )
        shortest = left(self.shortest_run)
        if longest - shortest < 60:
            return _about(longest)
        return (
            f"at most {wording.format_duration(longest)} (at least {wording.format_duration(shortest)}: "
            f"early stopping ends no run before {count_of(self.shortest_run, 'epoch')})"
        )


def _about(seconds):
    """'~7 min', or 'under 1 min'."""
    text = wording.format_duration(seconds)
    return text if text.startswith("under") else f"~{text}"


def known_progress(config, out_dir, records):
    """(run lengths, epoch times, epoch times by variant) already known for this study: its finished runs in
    `out_dir`, and the lengths of the runs of an earlier study of the same epochs and patience moved aside in it."""
    run_epochs = [r["epochs_run"] for r in records if r["record"] == "run_end" and r["backend"] == config.backend]
    timed = [r for r in records if r["record"] == "epoch" and "epoch_seconds" in r and r["backend"] == config.backend]
    epoch_seconds = [r["epoch_seconds"] for r in timed]
    for folder in sorted(out_dir.glob("previous-*")):
        try:
            earlier = results.StudyFolder(folder).records
        except (FileError, OSError):
            continue  # only a hint for the estimate: a broken backup is not this study's problem
        run_epochs += [
            r["epochs_run"]
            for r in earlier
            if r["record"] == "run_end"
            and (r.get("config") or {}).get("epochs") == config.epochs
            and (r.get("config") or {}).get("patience", reference.PATIENCE) == config.patience
        ]
    variant_seconds = {}
    for record in timed:
        variant_seconds.setdefault(record["variant"], []).append(record["epoch_seconds"])
    return run_epochs, epoch_seconds, variant_seconds


class StepProgress(keras.callbacks.Callback):
    """Progress within an epoch: an in-place bar on a terminal, else a log line every `interval` seconds.

    Keras's own bar is off (`fit(verbose=0)`): it shares the terminal line
    with the log and prints nothing to a file until an epoch ends.

    Args:
        label: what is training, such as 'baseline seed 0'.
        progress: the `StudyProgress`, for the ETA.
        stream: where the bar goes; a bar only when it is a terminal.
        interval: seconds between log lines when it is not.
        clock: the time source (a test passes its own).
    """

    def __init__(self, label, progress, stream=None, interval=30.0, clock=time.monotonic):
        super().__init__()
        self.label = label
        self.progress = progress
        self.stream = sys.stderr if stream is None else stream
        self.on_terminal = self.stream.isatty()
        self.log_throttle = Throttle(interval, clock)
        self.draw_throttle = Throttle(0.2, clock)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1
        self.epoch_started = self.log_throttle.clock()

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps")
        done = f"step {batch + 1}" + (f"/{steps}" if steps else "")
        loss = (logs or {}).get("loss")
        loss = "" if loss is None else f", loss {float(loss):.4f}"
        if self.on_terminal:
            if self.draw_throttle.due():
                share = (batch + 1) / steps if steps else 0.0
                bar = "=" * int(share * 20)
                self.stream.write(f"\r  {self.label} epoch {self.epoch} [{bar:<20}] {done}{loss}\x1b[K")
                self.stream.flush()
        elif self.log_throttle.due():
            share = (batch + 1) / steps if steps else 0.0
            elapsed = self.log_throttle.clock() - self.epoch_started
            eta = self.progress.eta(share, elapsed / share if share else None)
            logger.info("%s epoch %d: %s%s | study ETA %s", self.label, self.epoch, done, loss, eta)

    def on_epoch_end(self, epoch, logs=None):
        if self.on_terminal:  # the epoch's log line takes the bar's place
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        self.log_throttle.last = self.log_throttle.clock()


class NotATerminal:
    """A stream that is no terminal: `StepProgress` logs lines instead of drawing."""

    def isatty(self):
        return False
