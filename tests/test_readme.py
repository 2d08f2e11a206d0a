"""The README's Python example runs as written and its links resolve, so a newcomer's first try works."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_python_example_runs(tmp_path, monkeypatch):
    assert PYTHON_BLOCKS, "README.md has no python example"
    monkeypatch.chdir(tmp_path)  # the example saves model.keras in the working folder
    exec(compile(PYTHON_BLOCKS[0], "README.md", "exec"), {})
    assert (tmp_path / "model.keras").stat().st_size > 0


def test_readme_fast_path_example_runs():
    (block,) = [b for b in PYTHON_BLOCKS if "TrimmedBatches" in b]
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["model"].get_layer(index=1).kernel.shape == (1100 * 300, 25)


def test_public_names_resolve():
    import padzero

    for name in padzero.__all__:
        assert getattr(padzero, name) is not None


def test_readme_links_to_files_that_exist():
    prose = re.sub(r"```.*?```|`[^`]*`", "", README.read_text(), flags=re.S)  # code is not links
    targets = re.findall(r"\]\(([^)#\s]+)\)", prose)
    local = [target for target in targets if "://" not in target]
    assert local, "README.md links no local file"
    missing = [target for target in local if not (README.parent / target).exists()]
    assert not missing, f"README.md links files that do not exist: {missing}"
