"""The README's Python examples run as written and print what their comments say; its links resolve."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def expected_output(block):
    """What each `print(...)  # comment` line promises: the comment up to its first ': ' or ' ('."""
    promised = []
    for line in block.splitlines():
        match = re.match(r"\s*print\(.*\)\s+#\s*(.+)$", line)
        if match:
            promised.append(match.group(1).split(": ")[0].split(" (")[0].strip())
    return promised


def test_expected_output_reads_the_comments():
    block = "print(a)  # 0.0 True: exactly zero\nprint(b)  # (32, 100): gone\nprint(c)  # Embedding (ours)\nx = 1  # 5"
    assert expected_output(block) == ["0.0 True", "(32, 100)", "Embedding"]


@pytest.mark.per_backend
def test_readme_examples_run_in_a_fresh_process_and_print_what_they_say(tmp_path):
    assert len(PYTHON_BLOCKS) >= 2, "README.md lost its layer or fast-path example"
    script = "\n".join(PYTHON_BLOCKS)
    completed = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    printed = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
    assert printed == expected_output(script)
    assert (tmp_path / "classifier.keras").stat().st_size > 0


def test_readme_links_to_files_that_exist():
    prose = re.sub(r"```.*?```|`[^`]*`", "", README.read_text(encoding="utf-8"), flags=re.S)  # code is not links
    targets = [target.split("#")[0] for target in re.findall(r"\]\(([^)\s]+)\)", prose)]
    local = [target for target in targets if target and "://" not in target]
    assert local, "README.md links no local file"
    missing = [target for target in local if not (README.parent / target).exists()]
    assert not missing, f"README.md links files that do not exist: {missing}"


def test_readme_is_short():
    # The long explanations live in docs/; the README is what a newcomer reads in one sitting.
    assert len(README.read_bytes()) <= 10_000
