"""The package layout holds: the library never reaches into the study, and needs only Keras and NumPy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "padzero"
STUDY = ROOT / "src" / "padzero_study"


def imported_modules(path):
    """Every module a Python file imports, at any depth of its code (top-level names, e.g. 'padzero_study')."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_imported_modules_sees_nested_imports(tmp_path):
    source = tmp_path / "example.py"
    source.write_text("import os\ndef f():\n    from padzero_study import runner\n    import keras.ops\n")
    assert imported_modules(source) == {"os", "padzero_study", "keras"}


def test_the_library_never_imports_the_study_or_its_dependencies():
    for path in sorted(LIBRARY.glob("*.py")):
        imports = imported_modules(path)
        assert not imports & {"padzero_study", "sklearn", "matplotlib"}, f"{path.name} imports {imports}"


def study_modules_imported(path):
    """The padzero_study modules a file of the study imports, by module name ('report', 'encoders', ...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "padzero_study":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("padzero_study."):
            names.add(node.module.split(".")[1])
    return names


def test_the_runner_trains_and_records_and_no_report_module_is_its():
    # Arrows point down: the command asks for the report once the runner has trained and recorded.
    reports = {"reports", "cli"}
    assert not study_modules_imported(STUDY / "study" / "runner.py") & reports
    assert {"reports"} <= study_modules_imported(STUDY / "cli" / "__init__.py")


def test_an_encoder_is_one_module_and_one_registration():
    modules = sorted(path.stem for path in (STUDY / "models" / "encoders").glob("*.py") if path.stem not in ("__init__", "positions"))
    package = (STUDY / "models" / "encoders" / "__init__.py").read_text(encoding="utf-8")
    for name in modules:
        assert f"from padzero_study.models.encoders import {name} " in package, name
        assert (STUDY / "models" / "encoders" / f"{name}.py").read_text(encoding="utf-8").count("register_encoder(Encoder(") == 1


def test_the_library_depends_on_keras_and_numpy_only():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {requirement.split(">")[0].split("=")[0].split("<")[0].strip() for requirement in project["dependencies"]}
    assert names == {"keras", "numpy"}
    assert {"scikit-learn", "matplotlib"} <= {
        requirement.split(">")[0].strip() for requirement in project["optional-dependencies"]["study"]
    }


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.per_backend
def test_import_padzero_loads_the_layers_and_nothing_keras_would_not():
    # Keras itself imports scikit-learn and matplotlib where they are installed; padzero may add only itself.
    completed = run_python(
        "import sys, keras\n"
        "before = {name.split('.')[0] for name in sys.modules}\n"
        "import padzero\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} - before))\n"
        "print(keras.saving.get_registered_object('padzero>Embedding') is padzero.Embedding)"
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["['padzero']", "True"]


def test_the_study_modules_that_run_without_keras_do_not_import_it():
    completed = run_python(
        "import sys\n"
        "import padzero_study, padzero_study.cli, padzero_study.reports.study_report, padzero_study.results\n"
        "import padzero_study.models.variants, padzero_study.data.datasets, padzero_study.reports.diagnostics_report\n"
        "import padzero_study.models.encoders, padzero_study.models.embeddings, padzero_study.reports.encoders_report\n"
        "import padzero_study.reports.folder_report\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'keras', 'padzero', 'tensorflow', 'jax', 'torch'}))"
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[]"
