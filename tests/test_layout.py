"""The package layout holds: the library never reaches into the study, and needs only Keras and NumPy."""

import ast
import re
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
    assert {"reports"} <= study_modules_imported(STUDY / "cli" / "commands.py")


def test_an_encoder_is_one_module_and_one_registration():
    modules = sorted(
        path.stem
        for path in (STUDY / "models" / "encoders").glob("*.py")
        if path.stem not in ("__init__", "base", "positions")
    )
    package = (STUDY / "models" / "encoders" / "__init__.py").read_text(encoding="utf-8")
    for name in modules:
        assert f"from padzero_study.models.encoders import {name} " in package, name
        source = (STUDY / "models" / "encoders" / f"{name}.py").read_text(encoding="utf-8")
        assert len(re.findall(r"register_encoder\(\s*Encoder\(", source)) == 1, name


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
        "import padzero_study.reports.folder_report, padzero_study.study.settings\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'keras', 'padzero', 'tensorflow', 'jax', 'torch'}))"
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[]"


# ---------------------------------------------------------------- the study's wings: arrows point down

# Each module of the study by rank: a module imports only modules of a lower rank, or of its own sub-package.
# Commands -> the study and the other users of the layers (reports, bench) -> measures -> models, data and
# results -> what every part needs (files, values, wording, the reference sizes, the runtime) -> the library.
RANKS = {
    "files": 1,
    "values": 1,
    "wording": 1,
    "reference": 1,
    "registry": 1,
    "lazy_import": 1,
    "runtime": 2,
    "data": 3,
    "models": 3,
    "results": 3,
    "diagnostics": 4,
    "study": 5,
    "reports": 5,
    "bench": 5,
    "cli": 6,
    "__init__": 6,
    "__main__": 7,
}
LARGEST_MODULE_LINES = 400


def module_name(path):
    """'padzero_study.results.folder' for src/padzero_study/results/folder.py (a package: its __init__'s name)."""
    parts = path.relative_to(ROOT / "src").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules():
    return {module_name(path): path for path in sorted((ROOT / "src").rglob("*.py"))}


def import_graph():
    """{module: {modules of src/ it imports, at any depth of its code}}: `from a.b import c` is an edge to a.b.c
    where that is a module, else to a.b."""
    modules = source_modules()
    graph = {}
    for name, path in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in modules:
                for alias in node.names:
                    edges.add(
                        f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                    )
        graph[name] = edges - {name}
    return graph


def wing(module):
    """The study's part a module belongs to: 'results' for padzero_study.results.folder, 'files' for files."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_import_graph_sees_from_imports_of_submodules():
    graph = import_graph()
    assert "padzero_study.results.jsonlines" in graph["padzero_study.results.folder"]
    assert "padzero_study.study.settings" in graph["padzero_study.cli.commands"]


def test_every_wing_of_the_study_has_a_rank():
    assert {wing(name) for name in source_modules() if name.startswith("padzero_study")} <= set(RANKS)


def test_arrows_only_point_down():
    wrong = []
    for module, imported in import_graph().items():
        if not module.startswith("padzero_study"):
            continue
        for target in imported:
            if not target.startswith("padzero_study"):
                continue  # the library, below the whole study
            same_wing = wing(target) == wing(module) and RANKS[wing(module)] > 1 or target == module
            if not same_wing and RANKS[wing(target)] >= RANKS[wing(module)]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_training_reaches_no_report_even_indirectly():
    graph = import_graph()
    reached, frontier = set(), [name for name in graph if name.startswith("padzero_study.study.")]
    while frontier:
        for target in graph[frontier.pop()] - reached:
            reached.add(target)
            frontier.append(target)
    assert not {name for name in reached if wing(name) in ("reports", "cli")}


def test_no_import_circle_in_src():
    graph = import_graph()
    state = {}

    def visit(module, path):
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                raise AssertionError(" -> ".join([*path[path.index(target) :], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_module_is_over_the_size_limit():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in source_modules().items()}
    assert not {name: lines for name, lines in sizes.items() if lines > LARGEST_MODULE_LINES}


def test_the_layout_checks_can_fail(tmp_path, monkeypatch):
    # A circle and an upward arrow, planted: both are seen.
    graph = {
        "padzero_study.results.folder": {"padzero_study.study.runner"},
        "padzero_study.study.runner": {"padzero_study.results.folder"},
    }
    monkeypatch.setattr(sys.modules[__name__], "import_graph", lambda: graph)
    with pytest.raises(AssertionError, match="folder -> padzero_study.study.runner -> padzero_study.results.folder"):
        test_no_import_circle_in_src()
    with pytest.raises(AssertionError, match="results.folder -> padzero_study.study.runner"):
        test_arrows_only_point_down()


# ---------------------------------------------------------------- one owner per concept, one place per settings rule

# concept -> (what its code looks like, the one module of the study where it may be written).
OWNERS = {
    "an int that is not a bool": (
        r"not isinstance\([^()]*,\s*bool\)|isinstance\([^()]*,\s*bool\)\s*or\s+not\s",
        "values.py",
    ),
    "the atomic writer (a rename over the target)": (r"os\.replace\(|os\.rename\(", "files.py"),
    "the regular-file check": (r"S_ISREG|\.is_file\(\)", "files.py"),
    "the wording of an OSError": (r"\.strerror\b", "files.py"),
    "the report files' names": (
        r"[\"'](summary\.csv|report\.md|learning_curves\.png|diagnostics\.png|diagnostics\.md|"
        r"encoders\.png)[\"']",
        "results/names.py",
    ),
    "the reference model's sizes": (
        r"\b(MAXLEN|VOCAB_SIZE|EMBEDDING_DIM|HIDDEN_UNITS|maxlen|vocab_size|embedding_dim|"
        r"hidden_units)[\"']?\s*[=:]\s*(1_?100|20_?00[01]|300|25)\b",
        "reference.py",
    ),
    "a logger named by hand, not by its module": (r"getLogger\(\s*[\"']", None),
    "the logging configuration": (r"basicConfig\(|\.setLevel\(", "cli/__init__.py"),
    "the files named, or the folder's own": (r"results_paths\s+or\s", "results/folder.py"),
    # The settings rules: each checked once, where the settings are built.
    "--distribute needs the jax backend": (r"distribute\W+needs the jax backend", "study/settings.py"),
    "unknown variants are refused": (r"unknown variant", "study/settings.py"),
    "the init scale's range": (r"<=\s*MAX_INIT_SCALE", "study/settings.py"),
    "a shard is K/N with 1 <= K <= N": (r"must be K/N", "study/settings.py"),
    "padding goes before or after": (r"'pre' or 'post'", "values.py"),
}


def places(pattern, root=STUDY):
    """The modules under `root` (paths relative to it) whose text matches the regular expression `pattern`."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if re.search(pattern, path.read_text(encoding="utf-8"))
    )


@pytest.mark.parametrize("concept", OWNERS)
def test_each_concept_has_one_owner_and_no_second(concept):
    pattern, owner = OWNERS[concept]
    assert places(pattern) == ([owner] if owner else [])


def test_places_finds_a_second_owner(tmp_path):
    (tmp_path / "values.py").write_text("def is_int(value):\n    return not isinstance(value, bool)\n")
    (tmp_path / "elsewhere.py").write_text("ok = isinstance(flag, bool) or not isinstance(flag, int)\n")
    assert places(OWNERS["an int that is not a bool"][0], tmp_path) == ["elsewhere.py", "values.py"]


def test_every_logger_is_named_by_its_module():
    for path in sorted(STUDY.rglob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("logger = "):
                assert line == "logger = logging.getLogger(__name__)", path


def test_no_warned_already_guard_is_left():
    # A study folder is read once per command (padzero_study.results.StudyFolder): nothing to say twice.
    assert places(r"_SAID\b|warned_already|already_warned") == []
