"""The Keras backend a `padzero` command runs on, chosen before Keras is imported.

Keras reads its backend once, at import: `KERAS_BACKEND`, else the `backend`
of its config file, else TensorFlow. On an install with one backend only
(`pip install "padzero[jax]"`) that default fails, so the command chooses
among the installed backends itself and sets `KERAS_BACKEND` for Keras.
Importing this module does not import Keras.
"""

import dataclasses
import importlib.util
import json
import os
import sys
from pathlib import Path

from padzero_study import files
from padzero_study.files import shown

BACKENDS = ("jax", "tensorflow", "torch")  # each is also the module that must import
# The order a backend is picked in when nothing names one: Keras's own default first.
PREFERENCE = ("tensorflow", "jax", "torch")


class BackendError(ValueError):
    """The backend asked for cannot be used (unknown, not installed, or Keras already runs another)."""


@dataclasses.dataclass(frozen=True)
class BackendChoice:
    """The backend to run on, and the one line that says why when nobody named it (else None)."""

    name: str
    note: str | None = None


def install_hint(backend):
    """The one-line fix for a backend that is not installed."""
    return f"install it with: pip install 'padzero[{backend}]'"


def not_installed(backend):
    """None when `backend` can be imported, else the error message that says how to install it."""
    if importlib.util.find_spec(backend) is not None:
        return None
    return f"backend {backend!r} is not installed; {install_hint(backend)}"


def installed_backends():
    """The names in `BACKENDS` whose module can be imported here (without importing it)."""
    return frozenset(name for name in BACKENDS if importlib.util.find_spec(name) is not None)


def keras_config_path(environment):
    """Where Keras reads its config file: $KERAS_HOME/keras.json, else ~/.keras/keras.json (/tmp if ~ is read-only)."""
    if "KERAS_HOME" in environment:
        folder = Path(environment["KERAS_HOME"])
    else:
        home = os.path.expanduser("~")
        folder = Path(home if os.access(home, os.W_OK) else "/tmp") / ".keras"
    return folder.expanduser() / "keras.json"


def configured_backend(config_text):
    """The `backend` named by the text of a Keras config file, or None (no file, bad JSON, no such key)."""
    if config_text is None:
        return None
    try:
        config = json.loads(config_text)
    except ValueError:  # Keras ignores a config file it cannot parse, and so does this
        return None
    backend = config.get("backend") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) and backend else None


def choose_backend(requested=None, *, environment, config_text, installed, imported=None):
    """Chooses the backend as Keras would, but only among the installed ones.

    The order: `requested` (the `--backend` flag), else `KERAS_BACKEND`, else
    the config file's backend if it is installed, else the first installed of
    `PREFERENCE`. Pure: everything it reads comes in as arguments.

    Args:
        requested: str or None, the backend asked for on the command line.
        environment: mapping, the process environment (`KERAS_BACKEND` is read;
            an empty value counts as unset, as in Keras).
        config_text: str or None, the contents of Keras's config file.
        installed: collection of the backend names that can be imported.
        imported: str or None, the backend of a Keras already imported in this
            process: then nothing else can be used.

    Returns:
        A `BackendChoice`. Its `note` is one line saying which backend was
        picked and why, when neither `requested` nor `KERAS_BACKEND` named it
        and there was a choice to make: none when the only backend installed
        is picked (unless the config file names one padzero does not run on).

    Raises:
        BackendError: one line, for a named backend that padzero does not run
            on, that is not installed, or that differs from `imported`.

    Example:

    >>> choose_backend(environment={}, config_text=None, installed={"jax"}).name
    'jax'
    >>> choose_backend("torch", environment={"KERAS_BACKEND": "jax"}, config_text=None, installed={"jax", "torch"}).name
    'torch'
    """
    named_by_environment = environment.get("KERAS_BACKEND") or None
    if requested is not None:
        name, source = requested, f"--backend {requested}"  # argparse has checked its spelling
    elif named_by_environment is not None:
        # repr: a trailing space or newline in the variable is otherwise invisible
        name, source = named_by_environment, f"KERAS_BACKEND={named_by_environment!r}"
    else:
        name = source = None
    if name is not None:
        if name not in BACKENDS:
            fix = "use --backend with" if requested is not None else "set KERAS_BACKEND to"
            spelling = " (backends are lowercase, without spaces)" if name.strip().lower() in BACKENDS else ""
            raise BackendError(
                f"{source} is not a backend padzero runs on{spelling}; {fix} one of {', '.join(BACKENDS)}."
            )
        if imported is not None and name != imported:
            raise BackendError(
                f"{source} asked for, but Keras is already imported in this process with the {imported} backend "
                f"and cannot switch; run padzero in a new process."
            )
        if imported is None and name not in installed:
            raise BackendError(f"{source}: backend {name!r} is not installed; {install_hint(name)}")
        return BackendChoice(name)
    if imported is not None:
        return BackendChoice(imported)
    configured = configured_backend(config_text)
    if configured in installed:
        return BackendChoice(configured)  # what Keras itself would run on: nothing to say
    available = [backend for backend in PREFERENCE if backend in installed]
    if not available:
        raise BackendError(
            "No Keras backend is installed; install one with: pip install 'padzero[jax]' "
            "(or padzero[tensorflow], padzero[torch])."
        )
    # The only backend installed is no choice, and Keras writes "tensorflow" into a new config file whatever it
    # runs on: nothing to say. A config file naming a backend padzero does not run on was someone's choice.
    if len(available) == 1 and configured in (None, *BACKENDS):
        return BackendChoice(available[0])
    if configured is None:
        why = "KERAS_BACKEND is not set"
    else:
        why = f"Keras's config file names {configured}, which " + (
            "is not installed" if configured in BACKENDS else "padzero does not run on"
        )
    return BackendChoice(
        available[0],
        f"padzero: {why}; using {available[0]} "
        f"(installed: {', '.join(available)}; choose with --backend or KERAS_BACKEND)",
    )


def read_keras_config(config_path):
    """The text of Keras's config file, or None when there is none or Keras would ignore it (not JSON, not UTF-8).

    Keras reads the file at import and fails with a traceback when it is a
    folder or unreadable, or holds JSON that is not an object (`[]`,
    `"jax"`); those are refused here, in one line, before Keras is imported.

    Args:
        config_path: `pathlib.Path`, from `keras_config_path`.

    Raises:
        BackendError: one line naming the file and the fix.
    """
    fix = "fix or delete it (Keras writes a new one), or set KERAS_HOME to another folder"
    shown_path = shown(config_path)
    if not os.path.lexists(config_path):  # none yet: Keras writes one at its first import
        return None
    if not files.is_regular_file(config_path, follow_links=True):
        what = "a folder" if config_path.is_dir() else "not a regular file"
        raise BackendError(f"Keras's config file {shown_path} is {what}, and Keras cannot start with it; {fix}.")
    try:
        raw = config_path.read_bytes()
    except OSError as error:
        raise BackendError(
            f"Keras's config file: {files.describe_os_error(shown_path, error, writing=False)} Keras "
            f"cannot start without reading it; {fix}."
        ) from None
    try:
        text = raw.decode("utf-8")
        config = json.loads(text)
    except ValueError:  # Keras ignores a config file it cannot parse, and so does this
        return None
    if not isinstance(config, dict):
        raise BackendError(
            f"Keras's config file {shown_path} holds {text.strip()[:40]}, not a JSON object such as "
            f'{{"backend": "jax"}}, and Keras cannot start with it; {fix}.'
        )
    for key, allowed in KERAS_CONFIG_VALUES.items():  # what Keras refuses at import, without naming the file
        if key in config and not allowed(config[key]):
            raise BackendError(
                f"Keras's config file {shown_path} has {key}: {json.dumps(config[key])[:40]}, which Keras "
                f"refuses ({KERAS_CONFIG_RULES[key]}); {fix}."
            )
    return text


# The values Keras checks when it reads its config file (keras/src/backend/config.py).
KERAS_CONFIG_VALUES = {
    "floatx": lambda value: value in ("float16", "float32", "float64"),
    "epsilon": lambda value: isinstance(value, float),
    "image_data_format": lambda value: value in ("channels_last", "channels_first"),
}
KERAS_CONFIG_RULES = {
    "floatx": "one of float16, float32, float64",
    "epsilon": "a number with a decimal point, such as 1e-07",
    "image_data_format": "channels_last or channels_first",
}


def activate_backend(requested=None):
    """Chooses the backend for this process and sets `KERAS_BACKEND` so that Keras, imported later, runs on it.

    Args:
        requested: str or None, the `--backend` flag.

    Returns:
        The chosen backend's name. When it was picked automatically, one line
        on stderr says which.

    Raises:
        BackendError: see `choose_backend` and `read_keras_config`.
    """
    config_text = read_keras_config(keras_config_path(os.environ))
    imported = sys.modules["keras"].backend.backend() if "keras" in sys.modules else None
    choice = choose_backend(
        requested, environment=os.environ, config_text=config_text, installed=installed_backends(), imported=imported
    )
    if choice.note:
        print(choice.note, file=sys.stderr)
    os.environ["KERAS_BACKEND"] = choice.name
    return choice.name
