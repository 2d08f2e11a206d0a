"""The lock on a results file: one process writes it at a time, and a second is refused at once."""

import contextlib
import os
from pathlib import Path

from padzero_study.files import FileError, describe_os_error
from padzero_study.results.jsonlines import ResultsError
from padzero_study.results.names import RESULTS_FILE

try:
    import fcntl
except ImportError:  # Windows: no flock
    fcntl = None


def _lock_path(out_dir, results_name):
    return Path(out_dir) / f"{results_name}.lock"


@contextlib.contextmanager
def study_lock(out_dir, results_name=RESULTS_FILE):
    """Holds an exclusive lock on one results file of `out_dir`; refuses at once if another process holds it.

    Shards write files of their own, so each locks its own file and they run
    side by side in one folder.

    How no lock file is left behind: the lock is `flock` on
    `<results file>.lock`, which is deleted while still locked, on release.
    A process that opened the file just before that deletion may then get
    the lock on a file no longer in the folder; so, once locked, it checks
    that the path still names the file it holds (same inode) and otherwise
    starts over. At most one process ever holds the file the path names. A
    process killed with the lock held leaves the (empty) file; the next run
    takes it over and deletes it.

    Args:
        out_dir: the study folder (it must exist).
        results_name: the results file to lock, `RESULTS_FILE` or a shard's.

    Raises:
        ResultsError: when another process holds the lock.
    """
    if fcntl is None:  # no flock on this platform (Windows): run unguarded
        yield
        return
    path = _lock_path(out_dir, results_name)
    while True:
        # O_NOFOLLOW: a symlink planted at the lock's name must not make this create a file elsewhere.
        try:
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as error:
            raise ResultsError(f"Cannot open the lock file: {describe_os_error(path, error, writing=True)}") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise ResultsError(
                f"Another padzero process is writing {Path(out_dir) / results_name}; wait for it to finish, "
                "or give this one another --out (or a --shard of its own)."
            ) from None
        try:
            still_named = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            still_named = False
        if still_named:
            break
        os.close(descriptor)  # the holder before us deleted it: lock the file the path names now
    try:
        yield
    finally:
        # Delete, then unlock (by closing): a process that opened the old file sees it is no longer named.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(descriptor)


def is_locked(out_dir, results_name):
    """Whether another process holds `study_lock` on `results_name` of `out_dir` right now."""
    try:
        with study_lock(out_dir, results_name):
            return False
    except FileError:
        return True
