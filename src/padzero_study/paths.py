"""Paths in the study: how one-line messages show them, and the folders a refused run created."""

import os
from pathlib import Path


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
