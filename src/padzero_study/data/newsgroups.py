"""Loading the 20 Newsgroups posts and their labels: from an archive or folder (`bydate_files`), or scikit-learn's
data home, and checked to be 20 Newsgroups "bydate" post for post (`newsgroups_checksums`)."""

import dataclasses
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from padzero_study import files
from padzero_study.data.bydate_files import (  # noqa: F401  NEWSGROUPS, DataError and the limits: this module's public names
    HOW_TO_FIX_PATH,
    HOW_TO_GET_A_SOUND_COPY,
    MAX_POST_BYTES,
    MAX_TOTAL_BYTES,
    NEWSGROUPS,
    SUBSET_FOLDERS,
    DataError,
    check_newsgroup_names,
    find_bydate_root,
    read_archive,
    read_folder,
)
from padzero_study.data.newsgroups_checksums import BYDATE_POSTS, posts_checksum
from padzero_study.files import missing_folders, remove_empty_folders, shown
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class Newsgroups:
    """Raw posts with their newsgroup labels.

    `eq=False` because comparing NumPy arrays field by field is ambiguous;
    compare the fields themselves.

    Args:
        texts: List of raw posts (headers included), one string per post.
        labels: int64 array of shape `(len(texts),)`, each in
            `[0, len(label_names))`.
        label_names: Newsgroup names, sorted; `labels` index into it.
        source: Human-readable description of where the posts came from.
    """

    texts: list
    labels: np.ndarray
    label_names: list
    source: str

    def __post_init__(self):
        labels = np.asarray(self.labels, dtype=np.int64)
        object.__setattr__(self, "labels", labels)  # frozen: the only way to store the cast
        if labels.shape != (len(self.texts),):
            raise DataError(
                f"{self.source}: expected one label per text, shape ({len(self.texts)},); "
                f"received labels of shape {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.label_names)):
            raise DataError(
                f"{self.source}: labels must be in [0, {len(self.label_names)}); "
                f"received labels in [{labels.min()}, {labels.max()}]"
            )


def load_newsgroups(data_path=None, *, data_home=None, download=True, verify=True):
    """Loads all 18,846 posts of 20 Newsgroups "bydate" (train, then test).

    Tries, in order: `data_path` if given (no fallback when it fails), then
    scikit-learn's data home, then scikit-learn's download if `download`.
    Archives are read in memory and never extracted; tar members outside
    `20news-bydate-{train,test}/<group>/<file>`, and names that are absolute
    or contain `..`, are skipped. Links are never followed, in an archive or
    in a folder (a post, group or subset folder that is a symbolic link):
    they are skipped and their count is logged as a warning. So are files
    larger than `MAX_POST_BYTES` (4 MB; judged from the tar header, before
    reading: no real post is near it), and a source whose posts exceed
    `MAX_TOTAL_BYTES` (512 MB) in all is refused. Directly under
    `20news-bydate-{train,test}/` only the 20 `NEWSGROUPS` may be, and in a
    newsgroup's folder only posts, named by number: anything else (a
    `.DS_Store`, a study's results) is refused, never read as data.

    A damaged copy is refused, never read in part: an archive is read to the
    end of its gzip stream (its CRC and length checked) and past the last tar
    header (only zero blocks may follow). With `verify`, the posts must then
    be exactly 20 Newsgroups "bydate": each newsgroup's number of posts in
    each half, and a checksum of its posts (`newsgroups_checksums`), so a
    flipped bit or a changed file in an extracted folder is caught whatever
    the packing.

    Args:
        data_path: `str` or path-like, default `None`. The original
            `20news-bydate.tar.gz`, a folder holding the extracted
            `20news-bydate-train/` and `20news-bydate-test/`, or a folder
            one level above those (such as scikit-learn's `20news_home`).
        verify: Boolean, default `True`. Whether the posts must be those of
            20 Newsgroups "bydate", newsgroup by newsgroup. `False` reads a
            subset or a look-alike laid out the same way.
        data_home: Passed to `sklearn.datasets.fetch_20newsgroups`;
            `None` means `$SCIKIT_LEARN_DATA` or `~/scikit_learn_data`.
        download: Boolean, default `True`. Whether scikit-learn may download
            the archive when it is not in its data home.

    Returns:
        A `Newsgroups`, ordered by (train then test, group, file name).

    Raises:
        DataError: with a one-line message saying what was wrong and what to provide: a
            path that does not exist or is not a regular file or folder, an unreadable archive,
            a file or folder beside the newsgroups or a file in one that is not a post, too many
            bytes of posts, no posts, or (with `verify`) posts that are not 20 Newsgroups'.
    """
    if data_path is not None:
        return _load_from_path(Path(data_path).expanduser(), verify)
    from sklearn import datasets

    home = scikit_learn_data_home(data_home)
    # scikit-learn creates its data home and 20news_home as it looks: a failed look leaves neither behind.
    created = missing_folders(home / _SCIKIT_LEARN_FOLDER)
    attempts = [False, True] if download else [False]
    for download_if_missing in attempts:
        if download_if_missing:
            logger.info("20 Newsgroups is not in scikit-learn's data home %s: downloading it (14 MB)", shown(home))
        try:
            with warnings.catch_warnings():  # its per-retry warnings; the error below says it all
                warnings.simplefilter("ignore", UserWarning)
                bunch = datasets.fetch_20newsgroups(
                    subset="all", data_home=data_home, download_if_missing=download_if_missing, shuffle=False
                )
        except (OSError, EOFError) as error:  # URLError and HTTPError are OSErrors
            last_error = " ".join(f"{type(error).__name__}: {error}".split())
            continue
        source = f"scikit-learn's data home {shown(home)}"
        check_newsgroup_names(bunch.target_names, source)
        if verify:
            _check_bydate_posts(
                _posts_of_bunch(bunch),
                source,
                "delete scikit-learn's cached 20news-bydate_py3.pkz in it so that it downloads the archive again",
            )
        return Newsgroups(list(bunch.data), bunch.target, list(bunch.target_names), source)
    remove_empty_folders(created)
    # In the command's words: the command always lets scikit-learn download; a caller may not have.
    network = (
        "or allow network access so that scikit-learn can download it"
        if download
        else "or let scikit-learn download it (this call did not allow it) with network access"
    )
    raise DataError(
        "20 Newsgroups not found: pass --data PATH to 20news-bydate.tar.gz or its extracted folder, "
        f"or put it in scikit-learn's data home ($SCIKIT_LEARN_DATA, here {shown(home)}), {network}; "
        f"or use --dataset synthetic for a generated stand-in. Last error: {last_error}"
    )


# Where scikit-learn extracts the archive it downloads, in its data home (and deletes it once cached).
_SCIKIT_LEARN_FOLDER = "20news_home"


def scikit_learn_data_home(data_home=None):
    """The folder `sklearn.datasets.get_data_home(data_home)` names, without creating it (or importing scikit-learn).

    Example:

    >>> str(scikit_learn_data_home("/data/sk"))
    '/data/sk'
    """
    return Path(data_home or os.environ.get("SCIKIT_LEARN_DATA", os.path.join("~", "scikit_learn_data"))).expanduser()


def data_folder(data_path=None):
    """The folder whose files `load_newsgroups(data_path)` reads as posts, resolved; None for an archive (a file).

    Anything written under it could be read back as posts: a study's results
    folder inside `20news-bydate-train/` once became a 21st newsgroup. Without
    `data_path`, it is the folder scikit-learn extracts its download into
    (and deletes afterwards).

    Args:
        data_path: `str`, path-like or None, as for `load_newsgroups`.

    Returns:
        A resolved `pathlib.Path` (links and `..` followed), or None.
    """
    if data_path is None:
        return (scikit_learn_data_home() / _SCIKIT_LEARN_FOLDER).resolve()
    path = Path(data_path).expanduser().resolve()
    return path if path.is_dir() else None


def check_data_path(data_path):
    """Refuses, without reading it, a `--data` path that does not exist or is not a regular file or folder.

    Args:
        data_path: `str` or path-like.

    Raises:
        DataError: one line; a fifo or device would block the reader or never end.
    """
    path = Path(data_path).expanduser()
    if not path.exists():
        raise DataError(f"{shown(path)} does not exist; {HOW_TO_FIX_PATH}")
    if not path.is_dir() and not files.is_regular_file(path, follow_links=True):
        raise DataError(f"{shown(path)} is not a regular file or folder (a fifo, device or socket); {HOW_TO_FIX_PATH}")


def _load_from_path(path, verify):
    check_data_path(path)
    if path.is_dir():
        root = find_bydate_root(path)
        posts = read_folder(root) if root else []
        source = f"extracted folder {shown(root or path)}"
    else:
        posts = read_archive(path)
        source = f"archive {shown(path)}"
    if verify and posts:
        _check_bydate_posts(posts, source, HOW_TO_GET_A_SOUND_COPY)
    return _newsgroups_from_posts(posts, source=source)


def _posts_of_bunch(bunch):
    """scikit-learn's posts as `(subset index, group, file name, text)`, from the file names it records."""
    posts = []
    for file_name, label, text in zip(bunch.filenames, bunch.target, bunch.data):
        *_, subset, group, name = Path(file_name).parts
        subset_index = SUBSET_FOLDERS.index(subset) if subset in SUBSET_FOLDERS else -1
        posts.append((subset_index, bunch.target_names[label], name, text))
    return posts


def _check_bydate_posts(posts, source, fix):
    """Refuses posts that are not 20 Newsgroups "bydate": each newsgroup's count and checksum, in each half."""
    by_folder = {}
    for subset_index, group, name, text in sorted(posts, key=lambda post: post[:3]):
        subset = SUBSET_FOLDERS[subset_index] if subset_index >= 0 else "?"
        by_folder.setdefault(f"{subset}/{group}", []).append((name, text))
    expected = {
        f"{subset}/{group}": reference for subset, groups in BYDATE_POSTS.items() for group, reference in groups.items()
    }
    differing = []
    for folder in sorted(set(expected) | set(by_folder)):
        count, checksum = expected.get(folder, (0, None))
        found = by_folder.get(folder, [])
        if len(found) != count:
            differing.append(f"{folder} holds {count_of(len(found), 'post')} where 20 Newsgroups has {count:,}")
        elif posts_checksum(found) != checksum:
            differing.append(f"the posts of {folder} differ from 20 Newsgroups' (same number, other bytes)")
    if differing:
        more = f" (and {count_of(len(differing) - 1, 'other folder')} differ)" if len(differing) > 1 else ""
        raise DataError(f"{source} is not a sound copy of 20 Newsgroups: {differing[0]}{more}; {fix}")


def _newsgroups_from_posts(posts, source):
    """Sorts `(subset index, group, file name, text)` tuples into a `Newsgroups`."""
    if not posts:
        raise DataError(f"{source} holds no newsgroup posts (no 20news-bydate-train/<group>/<file>); {HOW_TO_FIX_PATH}")
    posts.sort(key=lambda post: post[:3])
    label_names = sorted({group for _, group, _, _ in posts})
    label_of_group = {group: label for label, group in enumerate(label_names)}
    labels = np.array([label_of_group[group] for _, group, _, _ in posts], dtype=np.int64)
    return Newsgroups([text for *_, text in posts], labels, label_names, source)
