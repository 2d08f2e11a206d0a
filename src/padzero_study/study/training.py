"""One run of the study: the model of a (variant, seed), trained with its epochs recorded as they end, and
Ctrl-C honoured at the next batch."""

import contextlib
import logging
import sys
import time
import warnings

import keras
import numpy as np

from padzero_study.diagnostics import recorder as diagnostics
from padzero_study.models.variants import build_model, get_variant
from padzero_study.results import DIAGNOSTICS_FILE
from padzero_study.runtime.seeding import set_random_seed
from padzero_study.study import interrupts
from padzero_study.study import progress as progress_module
from padzero_study.study.encoded_data import data_facts

logger = logging.getLogger(__name__)


class EpochRecorder(keras.callbacks.Callback):
    """Appends one results line per finished epoch and logs it with the study's ETA."""

    def __init__(self, folder, results_name, identity, progress):
        super().__init__()
        self.folder, self.results_name = folder, results_name
        self.identity = identity
        self.progress = progress

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        metrics = {name: float(logs[name]) for name in ("loss", "accuracy", "val_loss", "val_accuracy")}
        self.folder.append(
            self.results_name,
            {"record": "epoch", "epoch": epoch + 1, "epoch_seconds": seconds, **metrics, **self.identity},
        )
        self.progress.epoch_done(seconds)
        logger.info(
            "%s seed %d epoch %d: val_accuracy %.4f, val_loss %.4f (%.0f s) | study ETA %s",
            self.identity["variant"],
            self.identity["seed"],
            epoch + 1,
            metrics["val_accuracy"],
            metrics["val_loss"],
            seconds,
            self.progress.eta(),
        )


def training_data(config, encoded):
    """fit() arguments for the training and validation posts: the same on both paths, so the same batches."""
    return {
        "x": encoded.x_train,
        "y": encoded.y_train,
        "validation_data": (encoded.x_val, encoded.y_val),
        "batch_size": config.batch_size,
        "validation_batch_size": 256,
    }  # the same metrics in fewer, larger steps


def diagnostics_recorder(encoded, folder, identity, seed):
    """A `DiagnosticsRecorder` on fixed probe posts: 256 training posts, up to 1,000 validation posts."""
    probe = np.random.default_rng(seed).choice(len(encoded.x_train), size=min(256, len(encoded.x_train)), replace=False)
    return diagnostics.DiagnosticsRecorder(
        lambda record: folder.append(DIAGNOSTICS_FILE, record),
        {k: identity[k] for k in ("variant", "seed", "backend")},
        probe_ids=encoded.x_train[probe],
        probe_labels=encoded.y_train[probe],
        validation_ids=encoded.x_val[:1_000],
        padding_share_by_position=(encoded.x_train == 0).mean(axis=0),
        words_by_id={index: word for word, index in encoded.vocabulary.items()},
    )


def build_run_model(config, encoded, variant, seed):
    """The model of one (variant, seed) run, seeded: the same initial weights every time."""
    set_random_seed(seed)
    return build_model(
        variant,
        vocab_size=encoded.vocab_size,
        maxlen=config.maxlen,
        num_classes=len(encoded.label_names),
        embedding_dim=config.embedding_dim,
        hidden_units=config.hidden_units,
        dropout=config.dropout,
        fast_path=config.fast_path,
        embedding_init_scale=config.embedding_init_scale,
    )


@contextlib.contextmanager
def keras_mask_warning_held_back():
    """Keras's warning that Flatten destroys a mask is what the mask_zero variant exists to show (its description
    and the report say so): in a run's log it would only repeat that, once per run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*destroy the mask information", category=UserWarning)
        yield


def train_one_run(
    config, encoded, variant, seed, folder, results_name, progress, verbose=0, diagnose=False, facts=None
):
    """Trains one (variant, seed) and appends its epoch lines and a final run_end line.

    `verbose` draws a progress bar within each epoch when stderr is a
    terminal; otherwise, and with `verbose=0`, a line is logged every 30 s.
    `facts` are `data_facts(encoded)`, recorded in every line (computed when not given).
    """
    with keras_mask_warning_held_back():
        model = build_run_model(config, encoded, variant, seed)
    # Integer labels with the sparse loss: the same numbers as one-hot labels
    # with categorical cross-entropy, without a 20x larger label matrix.
    model.compile(optimizer=keras.optimizers.Adam(), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    identity = {
        "variant": variant,
        "seed": seed,
        "backend": config.backend,
        "fast_path": config.fast_path,
        "padding": get_variant(variant).padding or config.padding,
        "config": {**config.run_settings(), **(facts or data_facts(encoded))},
    }
    steps = progress_module.StepProgress(
        f"{variant} seed {seed}", progress, stream=sys.stderr if verbose else progress_module.NotATerminal()
    )
    # StepProgress first: it clears its bar before the recorder logs the epoch.
    callbacks = [
        steps,
        EpochRecorder(folder, results_name, identity, progress),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience),
    ]
    if diagnose:  # measures only (inference mode, no random draws): the training numbers stay the same
        callbacks.append(diagnostics_recorder(encoded, folder, identity, seed))
    started = time.perf_counter()
    with keras_mask_warning_held_back(), interrupts.sigint_noted() as interrupted:
        history = model.fit(
            **training_data(config, encoded),
            epochs=config.epochs,
            callbacks=[*callbacks, interrupts.InterruptAtBatchEnd(interrupted)],
            verbose=0,
        )
    epochs_run = len(history.history["loss"])
    folder.append(
        results_name,
        {
            "record": "run_end",
            "epochs_run": epochs_run,
            "stopped_early": epochs_run < config.epochs,
            "train_seconds": time.perf_counter() - started,
            **identity,
        },
    )
    progress.run_done()
