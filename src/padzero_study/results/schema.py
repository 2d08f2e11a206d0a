"""What a record of a study folder must hold: the fields of each results and diagnostics record and of
`config.json`, each with its type, checked as the record is read (`check_result`, `check_diagnostics`)."""

import json
import math

from padzero_study.files import read_own_file
from padzero_study.results.jsonlines import DuplicateKey, ResultsError, parse_json
from padzero_study.results.names import LARGEST_CLASS_COUNT, LARGEST_EPOCH, LARGEST_SEED
from padzero_study.values import is_int as _is_int
from padzero_study.values import is_real as _is_real

_LARGEST_SEED = LARGEST_SEED
_LARGEST_EPOCH = LARGEST_EPOCH
_DESCRIPTIONS = {}  # check -> what it accepts, for messages


def _name(value):
    return isinstance(value, str) and 0 < len(value) <= 200


def _seed(value):
    return _is_int(value) and 0 <= value <= _LARGEST_SEED


def _epoch(value):
    return _is_int(value) and 1 <= value <= _LARGEST_EPOCH


def _epoch_or_zero(value):
    return _is_int(value) and 0 <= value <= _LARGEST_EPOCH


def _accuracy(value):
    # NaN is what a diverged run's metrics hold: kept, and the report says so.
    return _is_real(value) and (math.isnan(value) or 0 <= value <= 1)


def _metric(value):
    return _is_real(value) and not math.isinf(value)


def _seconds(value):
    return _is_real(value) and math.isfinite(value) and value >= 0


def _flag(value):
    return isinstance(value, bool)


def _optional(check):
    def optional(value):
        return value is None or check(value)

    _DESCRIPTIONS[optional] = "null or " + _DESCRIPTIONS[check]
    return optional


def _config(value):
    return isinstance(value, dict) and all(
        key not in value or check(value[key]) for key, (check, _) in _CONFIG_FIELDS.items()
    )


_DESCRIPTIONS.update(
    {
        _name: "a non-empty string",
        _seed: f"an integer in [0, {_LARGEST_SEED:,}]",
        _epoch: f"an integer in [1, {_LARGEST_EPOCH:,}]",
        _epoch_or_zero: f"an integer in [0, {_LARGEST_EPOCH:,}]",
        _accuracy: "a number in [0, 1] (or NaN for a diverged run)",
        _metric: "a number (or NaN)",
        _seconds: "a finite number >= 0",
        _flag: "true or false",
        _config: "an object of run settings",
    }
)
# The config fields the report reads, with what each must be.
_CONFIG_FIELDS = {
    "dataset": (_name, "a non-empty string"),
    "num_classes": (lambda v: _is_int(v) and 2 <= v <= LARGEST_CLASS_COUNT, "an integer >= 2"),
    "epochs": (_epoch, _DESCRIPTIONS[_epoch]),
    "patience": (_epoch, _DESCRIPTIONS[_epoch]),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "maxlen": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "vocab_size": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "vocabulary": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "max_docs": (lambda v: v is None or (_is_int(v) and v >= 1), "null or a positive integer"),
    "train_posts": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
    "validation_posts": (lambda v: _is_int(v) and v >= 1, "a positive integer"),
}
# Per record kind: field -> (check, required).
_RECORD_FIELDS = {
    "epoch": {
        "variant": (_name, True),
        "seed": (_seed, True),
        "backend": (_name, True),
        "epoch": (_epoch, True),
        "val_accuracy": (_accuracy, True),
        "accuracy": (_accuracy, False),
        "loss": (_metric, False),
        "val_loss": (_metric, False),
        "epoch_seconds": (_seconds, False),
        "config": (_config, False),
        "fast_path": (_flag, False),
    },
    "run_end": {
        "variant": (_name, True),
        "seed": (_seed, True),
        "backend": (_name, True),
        "epochs_run": (_epoch, True),
        "train_seconds": (_seconds, False),
        "stopped_early": (_flag, False),
        "config": (_config, False),
        "fast_path": (_flag, False),
    },
}


def _describe(check):
    return _DESCRIPTIONS.get(check, "of another type")


def as_json_text(value, width=60):
    """`value` as JSON writes it (true, null, "text"), cut to `width` characters, for messages.

    Example:

    >>> as_json_text(True), as_json_text(None), as_json_text("x" * 50, width=10)
    ('true', 'null', '"xxxxxx...')
    """
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _check_fields(record, where, fields, *, kind):
    """Raises `ResultsError` at `where` unless every field in `fields` of `record` has its type.

    Args:
        record: a dict read from a JSON-lines file.
        where: 'file line N', for the message.
        fields: field -> (check, required).
        kind: what the record is, for the message ('an "epoch" record').
    """
    missing = [key for key, (_, required) in fields.items() if required and key not in record]
    if missing:
        raise ResultsError(
            f"{where} is missing {', '.join(missing)} ({kind} needs "
            f"{', '.join(k for k, (_, r) in fields.items() if r)}); fix or delete that line."
        )
    for key, (check, _) in fields.items():
        if key in record and not check(record[key]):
            if check is _config:
                bad = (
                    next(k for k, (c, _) in _CONFIG_FIELDS.items() if k in record[key] and not c(record[key][k]))
                    if isinstance(record[key], dict)
                    else None
                )
                if bad is not None:
                    raise ResultsError(
                        f"{where}: config.{bad} must be {_CONFIG_FIELDS[bad][1]}; received "
                        f"{as_json_text(record[key][bad])}. Fix or delete that line."
                    )
            raise ResultsError(
                f"{where}: {key} must be {_describe(check)}; received {as_json_text(record[key])}. "
                "Fix or delete that line."
            )


def check_result(record, where):
    kind = record.get("record")
    if kind not in _RECORD_FIELDS:
        raise ResultsError(
            f'{where}: record must be "epoch" or "run_end"; received {as_json_text(kind)}. '
            "Fix or delete that line (is this a padzero results file?)."
        )
    _check_fields(record, where, _RECORD_FIELDS[kind], kind=f'an "{kind}" record')


def _share(value):
    return _is_real(value) and (math.isnan(value) or 0 <= value <= 1)


def _measure(value):
    return _is_real(value) and not math.isinf(value)


def _neighbours(value):
    return isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) and _measure(pair[1]) for pair in value
    )


def _kernel_norms(value):
    return isinstance(value, dict) and all(
        value.get(key) is None or _measure(value[key]) for key in ("padding_positions", "real_positions")
    )


_DESCRIPTIONS.update(
    {
        _share: "a number in [0, 1] (or NaN)",
        _measure: "a number (or NaN)",
        _neighbours: 'a list of ["word", cosine] pairs',
        _kernel_norms: "an object of two norms",
    }
)
_DIAGNOSTICS_FIELDS = {
    "variant": (_name, True),
    "seed": (_seed, True),
    "epoch": (_epoch_or_zero, True),
    "step": (_optional(_epoch_or_zero), True),
    "padding_gradient_share": (_optional(_share), True),
    "table_gradient_norm": (_optional(_measure), False),
    "padding_norm": (_measure, True),
    "word_norm_mean": (_measure, True),
    "padding_nearest_words": (_neighbours, True),
    "dead_unit_fraction": (_share, True),
    "pre_activation_mean": (_measure, True),
    "pre_activation_std": (_measure, True),
    "val_accuracy": (_optional(_accuracy), False),
    "kernel_norms": (_kernel_norms, False),
    "shared_input_l1": (_optional(_measure), False),
    "probe_loss": (_optional(_measure), False),
}


def read_config(path):
    """The `config.json` the runner wrote, read (`parse_config`)."""
    return parse_config(path, read_own_file(path))


def parse_config(path, raw):
    """The `config.json` the runner wrote, from its bytes `raw`: a dict whose `run_settings` is a dict.

    Raises:
        ResultsError: naming the file, when it is not UTF-8 JSON of that shape.
    """
    how = "move it away, or use --force to move it aside and start over"
    try:
        # utf-8-sig: a byte order mark an editor put first is not an error.
        content = parse_json(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ResultsError(f"{path} is not UTF-8 text, so not a padzero config; {how}.") from None
    except DuplicateKey as error:
        raise ResultsError(f"{path} has the key {json.dumps(error.args[0])} twice; keep one of them.") from None
    except (ValueError, RecursionError) as error:
        detail = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply, or a number too long"
        raise ResultsError(f"{path} is not valid JSON ({detail}); {how}.") from None
    if not isinstance(content, dict) or not isinstance(content.get("run_settings"), dict):
        raise ResultsError(f'{path} is not a padzero config (an object with "run_settings"); {how}.')
    return content


def check_diagnostics(record, where):
    """Raises `ResultsError` at `where` unless `record` is a diagnostics record with every measure of its type."""
    _check_fields(record, where, _DIAGNOSTICS_FIELDS, kind="a diagnostics record")
