"""Loading the 20 Newsgroups posts and their labels, or a small synthetic stand-in."""

import dataclasses
import logging
import os
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np

from padzero_study.counts import count_of
from padzero_study.data.newsgroups_checksums import BYDATE_POSTS, posts_checksum
from padzero_study.files import missing_folders, remove_empty_folders, shown

logger = logging.getLogger(__name__)

# The two halves of the "bydate" split, in the order their posts are returned.
_SUBSET_FOLDERS = ("20news-bydate-train", "20news-bydate-test")
# The folders of 20news-bydate.tar.gz under each half, one per label: anything else there is not a newsgroup
# (a study's --out written into the data once became a 21st class).
NEWSGROUPS = (
    "alt.atheism", "comp.graphics", "comp.os.ms-windows.misc", "comp.sys.ibm.pc.hardware", "comp.sys.mac.hardware",
    "comp.windows.x", "misc.forsale", "rec.autos", "rec.motorcycles", "rec.sport.baseball", "rec.sport.hockey",
    "sci.crypt", "sci.electronics", "sci.med", "sci.space", "soc.religion.christian", "talk.politics.guns",
    "talk.politics.mideast", "talk.politics.misc", "talk.religion.misc",
)
_ENCODING = "latin-1"
_HOW_TO_FIX_PATH = "pass the original 20news-bydate.tar.gz or its extracted folder"
_HOW_TO_GET_A_SOUND_COPY = ("pass the original 20news-bydate.tar.gz (`gzip -t` must pass) or its extracted folder, "
                            "or use scikit-learn's download (omit --data where there is network access)")
# Past the last member a tar archive holds only zero blocks (two, then padding to its record size, 10 KB by
# default): anything else there, or more than this, is a damaged header that `tarfile` took for the end.
_MAX_TRAILING_ZERO_BYTES = 2**20
# The largest real post is 157 KB and all 18,846 take 34 MB: a post past 4 MB is not a post
# (a gzip bomb inflates a 1 MB archive to GBs), and posts past 512 MB in all are not 20 Newsgroups.
MAX_POST_BYTES = 4 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20


class DataError(ValueError):
    """A data source is missing, unreadable or holds no newsgroup posts (one-line message)."""


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
        _check_newsgroup_names(bunch.target_names, source)
        if verify:
            _check_bydate_posts(_posts_of_bunch(bunch), source, "delete scikit-learn's cached "
                                "20news-bydate_py3.pkz in it so that it downloads the archive again")
        return Newsgroups(list(bunch.data), bunch.target, list(bunch.target_names), source)
    remove_empty_folders(created)
    # In the command's words: the command always lets scikit-learn download; a caller may not have.
    network = ("or allow network access so that scikit-learn can download it" if download else
               "or let scikit-learn download it (this call did not allow it) with network access")
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
        raise DataError(f"{shown(path)} does not exist; {_HOW_TO_FIX_PATH}")
    if not path.is_dir() and not path.is_file():
        raise DataError(f"{shown(path)} is not a regular file or folder (a fifo, device or socket); "
                        f"{_HOW_TO_FIX_PATH}")


def _load_from_path(path, verify):
    check_data_path(path)
    if path.is_dir():
        root = _find_bydate_root(path)
        posts = _read_folder(root) if root else []
        source = f"extracted folder {shown(root or path)}"
    else:
        posts = _read_archive(path)
        source = f"archive {shown(path)}"
    if verify and posts:
        _check_bydate_posts(posts, source, _HOW_TO_GET_A_SOUND_COPY)
    return _newsgroups_from_posts(posts, source=source)


def _posts_of_bunch(bunch):
    """scikit-learn's posts as `(subset index, group, file name, text)`, from the file names it records."""
    posts = []
    for file_name, label, text in zip(bunch.filenames, bunch.target, bunch.data):
        *_, subset, group, name = Path(file_name).parts
        subset_index = _SUBSET_FOLDERS.index(subset) if subset in _SUBSET_FOLDERS else -1
        posts.append((subset_index, bunch.target_names[label], name, text))
    return posts


def _check_bydate_posts(posts, source, fix):
    """Refuses posts that are not 20 Newsgroups "bydate": each newsgroup's count and checksum, in each half."""
    by_folder = {}
    for subset_index, group, name, text in sorted(posts, key=lambda post: post[:3]):
        subset = _SUBSET_FOLDERS[subset_index] if subset_index >= 0 else "?"
        by_folder.setdefault(f"{subset}/{group}", []).append((name, text))
    expected = {f"{subset}/{group}": reference for subset, groups in BYDATE_POSTS.items()
                for group, reference in groups.items()}
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


def _member_parts(member_name):
    """The parts of a tar member's name, or None for a name that is absolute or goes up (`..`): never read."""
    if member_name.startswith(("/", "\\")):
        return None
    parts = [part for part in member_name.split("/") if part not in ("", ".")]
    return None if ".." in parts else parts


def _read_archive(path):
    posts, links, too_large = [], [], []
    source = f"archive {shown(path)}"
    total = _TotalSize(source)
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                parts = _member_parts(member.name)
                in_subset = parts is not None and len(parts) >= 2 and parts[0] in _SUBSET_FOLDERS
                if in_subset and parts[1] not in NEWSGROUPS:
                    raise _not_a_newsgroup(source, "/".join(parts[:2]), _HOW_TO_FIX_PATH)
                if member.issym() or member.islnk():
                    links.append(member.name)
                    continue
                if not in_subset or len(parts) < 3:
                    continue  # not under 20news-bydate-{train,test}/<group>/: not read
                if len(parts) > 3 or not parts[2].isdigit():
                    raise _not_a_post(source, "/".join(parts[:4]), _HOW_TO_FIX_PATH)
                if not member.isfile():
                    continue
                if member.size > MAX_POST_BYTES:  # from the header, before a byte of it is inflated
                    too_large.append(member.name)
                    continue
                total.add(member.size)
                posts.append((_SUBSET_FOLDERS.index(parts[0]), parts[1], parts[2],
                              archive.extractfile(member).read().decode(_ENCODING)))
            _read_to_the_end(archive, source)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise DataError(f"{shown(path)} is not a readable .tar.gz archive ({reason}): it is damaged or not "
                        f"20 Newsgroups; {_HOW_TO_GET_A_SOUND_COPY}") from error
    _warn_of_skipped_links(links, source)
    _warn_of_skipped_large_posts(too_large, source)
    return posts


def _read_to_the_end(archive, source):
    """Reads what follows the last tar header to the end of the gzip stream, which checks its CRC and length.

    `tarfile` takes a damaged header for the end of the archive and stops there without a word: 42 KB of garbage
    in the middle of the archive once gave 9,619 of its 18,846 posts. Only zero blocks may follow the last member.
    """
    archive.fileobj.seek(archive.offset)
    trailing = 0
    while chunk := archive.fileobj.read(2**16):
        trailing += len(chunk)
        if chunk.count(0) != len(chunk) or trailing > _MAX_TRAILING_ZERO_BYTES:
            raise DataError(f"{source} is damaged: a tar header at byte {archive.offset:,} of its contents cannot "
                            f"be read, so the posts after it would be lost; {_HOW_TO_GET_A_SOUND_COPY}")


def _not_a_post(source, entry, fix):
    """The error for a file in a newsgroup's folder that is not a post (posts are named by number), or a folder."""
    return DataError(f"{source} holds {entry!r}, which is not a post (posts are files named by number, such as "
                     f"20news-bydate-train/sci.med/58043) and would be read as one; remove it, or {fix}")


def _not_a_newsgroup(source, entry, fix, others=0):
    """The error for a file or folder beside the newsgroups, such as a study's results folder written into the data."""
    more = f" (and {count_of(others, 'other entry', 'other entries')})" if others else ""
    return DataError(f"{source} holds {entry!r}{more}, which is not one of the {len(NEWSGROUPS)} newsgroups "
                     f"({NEWSGROUPS[0]}, ..., {NEWSGROUPS[-1]}) and would be read as one more; {fix}")


def _check_newsgroup_names(names, source):
    """Refuses label names that are not newsgroups (scikit-learn labels each folder of its extracted archive)."""
    strays = sorted(set(names) - set(NEWSGROUPS))
    if strays:
        raise _not_a_newsgroup(source, strays[0], "delete its 20news-bydate_py3.pkz so that scikit-learn "
                               "downloads the archive again, or pass --data PATH to the original archive")


class _TotalSize:
    """Adds up the bytes of the posts read, refusing a source whose posts exceed `MAX_TOTAL_BYTES` in all."""

    def __init__(self, source):
        self.source, self.bytes = source, 0

    def add(self, size):
        self.bytes += size
        if self.bytes > MAX_TOTAL_BYTES:
            raise DataError(
                f"{self.source} holds more than {MAX_TOTAL_BYTES // 2**20:,} MB of posts (20 Newsgroups holds "
                f"34 MB); it is not 20 Newsgroups; {_HOW_TO_FIX_PATH}"
            )


def _warn_of_skipped_large_posts(names, source):
    if names:
        logger.warning(
            "Skipped %s larger than %d MB in %s, such as %s: no post is that large (the largest of "
            "20 Newsgroups is 157 KB).", count_of(len(names), "file"), MAX_POST_BYTES // 2**20, source, names[0],
        )


def _warn_of_skipped_links(links, source):
    # A link can point anywhere (/etc/passwd read as a post): never followed, but never silently either.
    if links:
        logger.warning(
            "Skipped %s in %s, such as %s: links are never followed; copy the files in instead.",
            count_of(len(links), "link"), source, links[0],
        )


def _find_bydate_root(folder):
    """`folder` or its first sub-folder (sorted, links left out) that holds a `20news-bydate-*` folder."""
    candidates = [folder] + sorted(child for child in folder.iterdir() if _is_real_folder(child))
    for candidate in candidates:
        if any((candidate / subset).is_dir() for subset in _SUBSET_FOLDERS):
            return candidate
    return None


def _is_real_folder(path):
    return path.is_dir() and not path.is_symlink()


def _entries(entries, links):
    """The `entries` (paths) that are not links; the links are added to `links`."""
    for entry in entries:
        if entry.is_symlink():
            links.append(str(entry))
        else:
            yield entry


def _read_folder(root):
    """The posts under `root`, as the archive reader gives them: links are skipped, not followed."""
    posts, links, too_large = [], [], []
    total = _TotalSize(f"folder {shown(root)}")
    for subset_index, subset in enumerate(_SUBSET_FOLDERS):
        subset_folder = root / subset
        if subset_folder.is_symlink():
            links.append(str(subset_folder))
            continue
        entries = sorted(subset_folder.iterdir()) if subset_folder.is_dir() else []
        strays = [entry.name for entry in entries if entry.name not in NEWSGROUPS]
        if strays:
            raise _not_a_newsgroup(f"folder {shown(subset_folder)}", strays[0], "move it out of the data folder "
                                   "(a study's --out belongs outside --data)", others=len(strays) - 1)
        for group_folder in _entries(entries, links):
            for post_path in _entries(sorted(group_folder.iterdir()), links) if group_folder.is_dir() else ():
                if not post_path.name.isdigit() or not post_path.is_file():
                    raise _not_a_post(f"folder {shown(root)}", str(post_path.relative_to(root)),
                                      "pass the original archive")
                try:
                    size = post_path.stat().st_size
                    if size > MAX_POST_BYTES:
                        too_large.append(str(post_path))
                        continue
                    total.add(size)
                    text = post_path.read_bytes().decode(_ENCODING)
                except OSError as error:
                    raise DataError(f"could not read {shown(post_path)} ({error.strerror or error})") from error
                posts.append((subset_index, group_folder.name, post_path.name, text))
    _warn_of_skipped_links(links, f"folder {shown(root)}")
    _warn_of_skipped_large_posts(too_large, f"folder {shown(root)}")
    return posts


def _newsgroups_from_posts(posts, source):
    """Sorts `(subset index, group, file name, text)` tuples into a `Newsgroups`."""
    if not posts:
        raise DataError(
            f"{source} holds no newsgroup posts (no 20news-bydate-train/<group>/<file>); {_HOW_TO_FIX_PATH}"
        )
    posts.sort(key=lambda post: post[:3])
    label_names = sorted({group for _, group, _, _ in posts})
    label_of_group = {group: label for label, group in enumerate(label_names)}
    labels = np.array([label_of_group[group] for _, group, _, _ in posts], dtype=np.int64)
    return Newsgroups([text for *_, text in posts], labels, label_names, source)


# Synthetic stand-in: sizes chosen so the length distribution resembles the
# real posts after preprocessing (median ~100 tokens, a tail past 1,100).
_BACKGROUND_WORDS = 5_000
_WORDS_PER_CLASS = 8
_CLASS_WORD_RATE = 0.05
_MEDIAN_LENGTH = 100
_LENGTH_SIGMA = 1.1
_SHORTEST_POST, _LONGEST_POST = 3, 20_000
# Generating takes about 7 KB per post at its peak (~180 tokens, each drawn as
# several 8-byte arrays), and encoding the posts for a study several times
# that, so 200,000 posts (ten times the real 18,846) stay within a few GB.
SYNTHETIC_MAX_DOCS = 200_000
SYNTHETIC_MAX_DOCS_HINT = "a synthetic post takes about 7 KB to generate and more to encode"


def synthetic_post_lengths(count, seed=0):
    """Post lengths in words shaped like 20 Newsgroups' after preprocessing.

    Lognormal with a median of 100 words; about 1.5% of posts are longer than
    1,100 words (1% of the real posts are), so padding dominates the id
    matrices as in the real data. Clipped to [3, 20,000].

    Args:
        count: Non-negative int. Number of lengths.
        seed: Int or `numpy.random.Generator`, default `0`. A generator is
            drawn from (and advanced); an int seeds a new one.

    Returns:
        int64 array of shape `(count,)`.

    Example:

    >>> lengths = synthetic_post_lengths(10_000)
    >>> bool(90 < np.median(lengths) < 110), bool(lengths.min() >= 3)
    (True, True)
    """
    rng = np.random.default_rng(seed)  # returns a Generator unchanged
    lengths = rng.lognormal(np.log(_MEDIAN_LENGTH), _LENGTH_SIGMA, count)
    return np.clip(np.round(lengths), _SHORTEST_POST, _LONGEST_POST).astype(np.int64)


def make_synthetic_newsgroups(num_docs=2000, num_classes=20, seed=0):
    """Generates a small, learnable stand-in for 20 Newsgroups in seconds.

    Posts are made-up letter-only words ("wabu", "kelo"): a shared background
    vocabulary with Zipf-like frequencies, plus a few words per class mixed in
    at a rate of 5%, so a bag-of-words model does well above chance. Lengths
    come from `synthetic_post_lengths` (median ~100 words, some longer than
    1,100), so padding dominates as in the real data.

    Args:
        num_docs: Positive int, default `2000`, at most `SYNTHETIC_MAX_DOCS`
            (200,000): generating takes about 7 KB per post, and encoding the
            posts for a study several times that.
        num_classes: Int >= 2, default `20`. Number of classes (balanced).
        seed: Int, default `0`. The same seed gives the same posts.

    Returns:
        A `Newsgroups` with `label_names` `["synthetic.0", "synthetic.1", ...]`.

    Raises:
        ValueError: for a `num_docs` that is not a positive int of at most
            200,000 (checked before anything is allocated), or a
            `num_classes` that is not an int >= 2.
    """
    # Imported here, not at the top: importing padzero imports Keras, which loading data does not need.
    from padzero.validation import check_positive_int

    check_positive_int("num_docs", num_docs, maximum=SYNTHETIC_MAX_DOCS, hint=SYNTHETIC_MAX_DOCS_HINT)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2; received num_classes={num_classes!r}")
    rng = np.random.default_rng(seed)
    words = np.array(_made_up_words(_BACKGROUND_WORDS + num_classes * _WORDS_PER_CLASS, rng))
    labels = rng.permutation(np.arange(num_docs) % num_classes).astype(np.int64)
    lengths = synthetic_post_lengths(num_docs, rng)

    # Draw every token of every post at once, then cut them into posts.
    num_tokens = int(lengths.sum())
    zipf_weights = 1.0 / np.arange(1, _BACKGROUND_WORDS + 1)
    background = rng.choice(_BACKGROUND_WORDS, size=num_tokens, p=zipf_weights / zipf_weights.sum())
    token_labels = np.repeat(labels, lengths)
    class_words = _BACKGROUND_WORDS + token_labels * _WORDS_PER_CLASS
    class_words += rng.integers(_WORDS_PER_CLASS, size=num_tokens)
    token_ids = np.where(rng.random(num_tokens) < _CLASS_WORD_RATE, class_words, background)
    texts = [" ".join(words[post]) for post in np.split(token_ids, np.cumsum(lengths)[:-1])]
    source = f"synthetic stand-in (num_docs={num_docs}, num_classes={num_classes}, seed={seed})"
    return Newsgroups(texts, labels, [f"synthetic.{label}" for label in range(num_classes)], source)


def _made_up_words(count, rng):
    """`count` distinct 2-3 syllable words such as "wabu"; none is an English stop word."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    syllables = [consonant + vowel for consonant in "bdfgklmnprstvz" for vowel in "aeiou"]
    words, seen = [], set(ENGLISH_STOP_WORDS)
    while len(words) < count:
        picks_per_word = rng.integers(len(syllables), size=(count, 3))
        for picks, num_syllables in zip(picks_per_word, rng.integers(2, 4, size=count)):
            word = "".join(syllables[pick] for pick in picks[:num_syllables])
            if word not in seen:
                seen.add(word)
                words.append(word)
    return words[:count]
