"""Where the results go: --out checked before any measurement, and the JSON written whole.

The regular-file check and the atomic writer are `padzero_study.files`'s
(`check_own_file`, `replacing_file`): --out is never a folder, a device, a
fifo or a socket, and never written through a symbolic link.
"""

import json
import os
import tempfile
from pathlib import Path

from padzero_study import files
from padzero_study.bench.cases import BenchError
from padzero_study.files import shown


def _out_error(error, path):
    """`error` (a `files.FileError` naming `path`) as a `BenchError` naming --out, `path` shown as messages show it."""
    message = str(error).replace(str(path), shown(path))
    return BenchError(f"--out {message}" if message.startswith(shown(path)) else message)


def check_output_file(path):
    """Refuses, before any measurement, a results path that cannot be written.

    Args:
        path: str or path-like, where `write_results` will write the JSON.

    Raises:
        BenchError: one line, when the folder of `path` does not exist or is
            not writable, or `path` is not a regular file or absent
            (`files.check_own_file`: a folder, a symbolic link, a device, a
            fifo, a socket).
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        what = "is a file, not a folder" if os.path.lexists(folder) else "does not exist"
        raise BenchError(
            f"Cannot write the results to {shown(path)}: folder {shown(folder)} {what}; create it or "
            "choose another path."
        )
    try:
        files.check_own_file(path, must_exist=False)
    except files.FileError as error:
        if path.is_dir() and not path.is_symlink():
            raise BenchError(
                f"--out {shown(path)} is a folder; give the results a file name, such as {shown(path / 'bench.json')}."
            ) from None
        raise _out_error(error, path) from None
    try:  # the only sure test of writability is writing: permissions, read-only mounts, ACLs
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as error:
        raise BenchError(f"--out: {files.describe_os_error(shown(path), error, writing=True)}") from None


def write_results(results, path):
    """Writes `results` as JSON to `path` atomically (`files.replacing_file`): a reader or a crash sees the old file
    or the new one, whole.

    Args:
        results: the dict `run_bench` returns.
        path: str or path-like.

    Raises:
        BenchError: one line, when `path` has become a link or another file that is not a regular one during the
            measurements, or cannot be written.
    """
    path = Path(path)
    try:
        with files.replacing_file(path) as file:
            json.dump(results, file, indent=2)
            file.write("\n")
    except files.FileError as error:
        raise _out_error(error, path) from None
