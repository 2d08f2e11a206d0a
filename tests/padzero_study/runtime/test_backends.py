"""How the `padzero` command chooses the Keras backend before Keras is imported (no Keras needed)."""

import json
import os
import subprocess
import sys

import pytest

from padzero_study.runtime import backends
from padzero_study.runtime.backends import BackendError, choose_backend

ALL = {"jax", "tensorflow", "torch"}
KERAS_WROTE_IT = json.dumps(
    {"floatx": "float32", "epsilon": 1e-07, "backend": "tensorflow", "image_data_format": "channels_last"}
)


def choose(requested=None, environment=None, config_text=None, installed=ALL, imported=None):
    return choose_backend(
        requested, environment=environment or {}, config_text=config_text, installed=installed, imported=imported
    )


@pytest.mark.parametrize(
    "requested, environment, config_text, installed, expected",
    [
        ("torch", {"KERAS_BACKEND": "jax"}, KERAS_WROTE_IT, ALL, "torch"),  # the flag wins
        (None, {"KERAS_BACKEND": "jax"}, KERAS_WROTE_IT, ALL, "jax"),  # then the environment
        (None, {}, json.dumps({"backend": "torch"}), ALL, "torch"),  # then the config file
        (None, {}, KERAS_WROTE_IT, ALL, "tensorflow"),  # Keras's own choice when it is installed
        (None, {}, None, ALL, "tensorflow"),  # no file: Keras's default first
        (None, {}, None, {"jax", "torch"}, "jax"),
        (None, {}, None, {"torch"}, "torch"),
        (None, {"KERAS_BACKEND": ""}, None, {"jax"}, "jax"),  # empty counts as unset, as in Keras
    ],
)
def test_choice_order(requested, environment, config_text, installed, expected):
    assert choose(requested, environment, config_text, installed).name == expected


def test_named_backends_say_nothing_and_keras_own_choice_says_nothing():
    assert choose("jax").note is None
    assert choose(environment={"KERAS_BACKEND": "torch"}).note is None
    assert choose(config_text=json.dumps({"backend": "jax"})).note is None


@pytest.mark.parametrize("config_text", [KERAS_WROTE_IT, None, json.dumps({"backend": "torch"})])
def test_a_single_backend_install_gets_its_backend_and_says_nothing(config_text):
    # Keras writes `"backend": "tensorflow"` into its config file at its first import, whatever it ran on: a note
    # that the file names tensorflow came with every command of a jax-only install, though there was no choice.
    choice = choose(config_text=config_text, installed={"jax"})
    assert choice == backends.BackendChoice("jax")


def test_a_choice_among_installed_backends_is_one_line_saying_why():
    choice = choose(config_text=KERAS_WROTE_IT, installed={"jax", "torch"})
    assert choice.name == "jax" and choice.note.count("\n") == 0
    assert "names tensorflow, which is not installed" in choice.note and "using jax" in choice.note
    assert "(installed: jax, torch; choose with --backend or KERAS_BACKEND)" in choice.note


def test_no_config_file_says_keras_backend_is_unset():
    choice = choose(installed={"jax", "torch"})
    assert choice.note.startswith("padzero: KERAS_BACKEND is not set; using jax")


@pytest.mark.parametrize("config_text", ["{not json", "[1, 2]", json.dumps({"backend": 3}), json.dumps({})])
def test_unreadable_config_is_ignored_as_keras_ignores_it(config_text):
    assert choose(config_text=config_text, installed={"jax", "torch"}).name == "jax"


def test_config_naming_a_backend_padzero_does_not_run_on():
    choice = choose(config_text=json.dumps({"backend": "numpy"}), installed={"jax"})
    assert choice.name == "jax" and "numpy, which padzero does not run on" in choice.note


@pytest.mark.parametrize(
    "requested, environment, fragment",
    [
        (None, {"KERAS_BACKEND": "bogus"}, "KERAS_BACKEND='bogus' is not a backend padzero runs on; set KERAS_BACKEND"),
        (None, {"KERAS_BACKEND": "numpy"}, "KERAS_BACKEND='numpy' is not a backend padzero runs on; set"),
        # A trailing space was invisible ("KERAS_BACKEND=jax is not a backend"), capitals got no hint.
        (
            None,
            {"KERAS_BACKEND": "jax "},
            "KERAS_BACKEND='jax ' is not a backend padzero runs on (backends are "
            "lowercase, without spaces); set KERAS_BACKEND to one of jax, tensorflow",
        ),
        (
            None,
            {"KERAS_BACKEND": "JAX"},
            "KERAS_BACKEND='JAX' is not a backend padzero runs on (backends are lowercase",
        ),
        ("bogus", {}, "--backend bogus is not a backend padzero runs on; use --backend"),
        (
            None,
            {"KERAS_BACKEND": "torch"},
            "backend 'torch' is not installed; install it with: pip install 'padzero[torch]'",
        ),
        ("tensorflow", {}, "pip install 'padzero[tensorflow]'"),
    ],
)
def test_named_backend_that_cannot_run_is_one_line(requested, environment, fragment):
    with pytest.raises(BackendError) as caught:
        choose(requested, environment, installed={"jax"})
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_no_backend_installed_names_the_extras():
    with pytest.raises(
        BackendError, match=r"No Keras backend is installed; install one with: pip install 'padzero\[jax\]'"
    ):
        choose(installed=set())


def test_keras_already_imported_keeps_its_backend_or_says_why_not():
    assert choose(imported="jax").name == "jax"
    assert choose(environment={"KERAS_BACKEND": "jax"}, imported="jax").name == "jax"
    # Whatever is installed now, the imported Keras runs on its backend (it was importable then).
    assert choose(installed=set(), imported="torch").name == "torch"
    with pytest.raises(BackendError, match="already imported in this process with the jax backend"):
        choose("torch", imported="jax")


def test_keras_config_path_follows_keras_home(tmp_path):
    assert backends.keras_config_path({"KERAS_HOME": str(tmp_path)}) == tmp_path / "keras.json"
    assert backends.keras_config_path({}).name == "keras.json"
    assert backends.keras_config_path({}).parent.name == ".keras"


def test_activate_backend_reads_the_config_file_and_sets_keras_backend(tmp_path):
    # In a fresh process, so that Keras is not imported yet; KERAS_HOME points at a config file of the test's.
    if "jax" not in backends.installed_backends():
        pytest.skip("jax is not installed")
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    script = (
        "import sys, os; from padzero_study.runtime.backends import activate_backend; "
        "print(activate_backend(), os.environ['KERAS_BACKEND'], 'keras' in sys.modules)"
    )
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    environment["KERAS_HOME"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["jax", "jax", "False"]
    assert result.stderr == ""  # the config file named it: nothing to say


@pytest.mark.parametrize(
    "content, fragment",
    [
        ("[]", "holds [], not a JSON object"),
        ('"jax"', 'holds "jax", not a JSON object'),
        ("null", "holds null, not a JSON object"),
        ('{"floatx": "float8"}', 'has floatx: "float8", which Keras refuses (one of float16, float32, float64)'),
        ('{"epsilon": 1}', "has epsilon: 1, which Keras refuses (a number with a decimal point"),
        ('{"image_data_format": "nhwc"}', 'has image_data_format: "nhwc", which Keras refuses'),
        (None, "is a folder"),
    ],
)
def test_config_file_keras_cannot_start_with_is_one_line(tmp_path, content, fragment):
    # Keras itself fails on these at import, with a traceback (AttributeError) or a bare errno.
    path = tmp_path / "keras.json"
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    with pytest.raises(BackendError) as caught:
        backends.read_keras_config(path)
    message = str(caught.value)
    assert f"Keras's config file {path} {fragment}" in message and "\n" not in message
    assert "fix or delete it" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_config_file_is_one_line(tmp_path):
    path = tmp_path / "keras.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(BackendError, match="cannot be read .Permission denied., and Keras cannot start"):
        backends.read_keras_config(path)


@pytest.mark.parametrize(
    "content, expected", [("{not json", None), (b"\xff\xfe", None), ('{"backend": "jax"}', '{"backend": "jax"}')]
)
def test_config_file_keras_ignores_or_reads_is_returned(tmp_path, content, expected):
    path = tmp_path / "keras.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert backends.read_keras_config(path) == expected
    assert backends.read_keras_config(tmp_path / "missing.json") is None
