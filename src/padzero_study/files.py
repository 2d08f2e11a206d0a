"""The study's own files: how one is checked, read and written whole, and how paths and OS errors are put in words.

One owner each: `check_own_file` is the regular-file check (no link followed
unless asked, no fifo or device), `replacing_file` the atomic writer (a
temporary file beside the target, fsynced and renamed over it, never written
through a link), `describe_os_error` the wording of an `OSError`, and `shown`
how a message shows a path.
"""

import contextlib
import errno
import os
import stat
from pathlib import Path


class FileError(ValueError):
    """A file cannot be used as it is (one line naming the file and a fix)."""


def shown(path):
    """`path` as messages show it: plain, or quoted when it holds a newline or other control character.

    Example:

    >>> shown("runs/study"), shown("runs/a\\nb")
    ('runs/study', "'runs/a\\\\nb'")
    """
    text = str(path)
    return repr(text) if any(not character.isprintable() for character in text) else text


def missing_folders(folder):
    """The folders `Path(folder).mkdir(parents=True)` would create: `folder` and its missing parents, deepest first.

    Example:

    >>> [str(path) for path in missing_folders("/nonexistent-root/runs/study")]
    ['/nonexistent-root/runs/study', '/nonexistent-root/runs', '/nonexistent-root']
    """
    folder = Path(folder)
    missing = []
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_empty_folders(folders):
    """Removes each of `folders` that is empty, deepest first; one that something was put in meanwhile stays.

    A refused run leaves no empty folder behind: give it the folders it created (`missing_folders`, taken
    before), never one that existed before.
    """
    for folder in sorted(map(Path, folders), key=lambda path: len(path.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:  # not empty, gone already, or not ours to remove
            pass


def describe_os_error(path, error, *, writing):
    """A one-line message for an `OSError` on a study folder's file `path`: what happened and what to do."""
    code = getattr(error, "errno", None)
    reason = error.strerror or str(error)
    if code == errno.ENOSPC:
        return f"no space left on device while writing {path}; finished results are kept; free space and rerun."
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        action = "written" if writing else "read"
        return (
            f"{path} cannot be {action} ({reason}): the folder is read-only or not yours; "
            "make it writable, or copy the folder elsewhere and use that."
        )
    if code == errno.EISDIR:
        return f"{path} is a folder where a file is expected; move that folder away."
    if code == errno.ENOTDIR:
        return f"{path}: a part of that path is a file, not a folder; give a study folder."
    if code == errno.ELOOP:
        return f"{path} is a symbolic link, which a study folder's own files must not be; replace it by the file."
    if code == errno.ENAMETOOLONG:
        return f"{path}: the name is too long for the file system; choose a shorter path."
    return f"Cannot {'write' if writing else 'read'} {path} ({reason}); check that path, or choose another folder."


def is_regular_file(path, *, follow_links=False):
    """Whether `path` is a regular file: not a folder, fifo, device or socket, and not a link unless `follow_links`
    (then the file it leads to counts). False where there is nothing."""
    try:
        status = os.stat(path) if follow_links else os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return stat.S_ISREG(status.st_mode)


def check_own_file(path, *, follow_links=False, must_exist=True):
    """Refuses, before anything opens it, a study folder's file that is a symbolic link or not a regular file.

    A link in a study folder could lead anywhere (its content would show in
    messages, or a write would go through it), and a fifo or device never
    ends; so neither is read nor written.

    Args:
        path: the file.
        follow_links: accept a link to a regular file (a file the user named explicitly).
        must_exist: raise when the file is absent; otherwise return False then.

    Returns:
        Whether the file exists.

    Raises:
        FileError: one line naming `path`.
    """
    try:
        status = os.stat(path) if follow_links else os.lstat(path)
    except FileNotFoundError:
        if not must_exist:
            return False
        raise FileError(f"{path} does not exist; give the results files of a study folder.") from None
    except OSError as error:
        raise FileError(describe_os_error(path, error, writing=False)) from None
    if stat.S_ISLNK(status.st_mode):
        raise FileError(
            f"{path} is a symbolic link; a study folder's own files are not read or written "
            "through links (replace it by the file itself, or move it away)."
        )
    if stat.S_ISDIR(status.st_mode):
        raise FileError(f"{path} is a folder where a file is expected; move that folder away.")
    if not stat.S_ISREG(status.st_mode):
        raise FileError(f"{path} is not a regular file (a device, fifo or socket); give a regular file.")
    return True


def read_own_file(path, *, follow_links=False):
    """The bytes of `path`, after `check_own_file` (a link is not followed unless `follow_links`)."""
    check_own_file(path, follow_links=follow_links)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise FileError(describe_os_error(path, error, writing=False)) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):  # replaced between the check and the open
            raise FileError(f"{path} is not a regular file; give a regular file.")
        with os.fdopen(os.dup(descriptor), "rb") as file:
            return file.read()
    except OSError as error:
        raise FileError(describe_os_error(path, error, writing=False)) from None
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def replacing_file(path, mode="w"):
    """Yields a new file that replaces `path` whole on success: never written through a link at `path`.

    The content goes to a temporary file beside `path` (created exclusively,
    no link followed), which is fsynced and renamed over `path`. A `path`
    that is a link, a folder or a special file is refused first.

    Args:
        path: the file to write.
        mode: "w" (text, UTF-8) or "wb".

    Raises:
        FileError: one line naming `path`, for a link or non-regular file there, or an `OSError`
            (read-only folder, no space left, ...).
    """
    path = Path(path)
    check_own_file(path, must_exist=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)  # a leftover of a killed process with this pid (or a link): never written through
        descriptor = os.open(temporary, flags, 0o644)
    except OSError as error:
        raise FileError(describe_os_error(path, error, writing=True)) from None
    try:
        with open(descriptor, mode, **({"encoding": "utf-8", "newline": ""} if "b" not in mode else {})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        check_own_file(path, must_exist=False)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise FileError(describe_os_error(path, error, writing=True)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_own_file(path, content):
    """Replaces `path` by `content` (str or bytes) through `replacing_file`."""
    with replacing_file(path, "wb" if isinstance(content, bytes) else "w") as file:
        file.write(content)
