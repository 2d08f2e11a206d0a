"""The files of 20 Newsgroups "bydate": its layout (two halves, twenty newsgroup folders, posts named by
number), and its posts read out of the archive or an extracted folder, safely: no link followed, no member outside
the layout, no post or total past its size limit, and an archive read to the end of its gzip stream."""

import logging
import tarfile
import zlib

from padzero_study import files
from padzero_study.files import shown
from padzero_study.wording import count_of

logger = logging.getLogger(__name__)

# The two halves of the "bydate" split, in the order their posts are returned.
SUBSET_FOLDERS = ("20news-bydate-train", "20news-bydate-test")
# The folders of 20news-bydate.tar.gz under each half, one per label: anything else there is not a newsgroup
# (a study's --out written into the data once became a 21st class).
NEWSGROUPS = (
    "alt.atheism",
    "comp.graphics",
    "comp.os.ms-windows.misc",
    "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware",
    "comp.windows.x",
    "misc.forsale",
    "rec.autos",
    "rec.motorcycles",
    "rec.sport.baseball",
    "rec.sport.hockey",
    "sci.crypt",
    "sci.electronics",
    "sci.med",
    "sci.space",
    "soc.religion.christian",
    "talk.politics.guns",
    "talk.politics.mideast",
    "talk.politics.misc",
    "talk.religion.misc",
)
_ENCODING = "latin-1"
HOW_TO_FIX_PATH = "pass the original 20news-bydate.tar.gz or its extracted folder"
HOW_TO_GET_A_SOUND_COPY = (
    "pass the original 20news-bydate.tar.gz (`gzip -t` must pass) or its extracted folder, "
    "or use scikit-learn's download (omit --data where there is network access)"
)
# Past the last member a tar archive holds only zero blocks (two, then padding to its record size, 10 KB by
# default): anything else there, or more than this, is a damaged header that `tarfile` took for the end.
_MAX_TRAILING_ZERO_BYTES = 2**20
# The largest real post is 157 KB and all 18,846 take 34 MB: a post past 4 MB is not a post
# (a gzip bomb inflates a 1 MB archive to GBs), and posts past 512 MB in all are not 20 Newsgroups.
MAX_POST_BYTES = 4 * 2**20
MAX_TOTAL_BYTES = 512 * 2**20


class DataError(ValueError):
    """A data source is missing, unreadable or holds no newsgroup posts (one-line message)."""


def _member_parts(member_name):
    """The parts of a tar member's name, or None for a name that is absolute or goes up (`..`): never read."""
    if member_name.startswith(("/", "\\")):
        return None
    parts = [part for part in member_name.split("/") if part not in ("", ".")]
    return None if ".." in parts else parts


def read_archive(path):
    posts, links, too_large = [], [], []
    source = f"archive {shown(path)}"
    total = _TotalSize(source)
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive:
                parts = _member_parts(member.name)
                in_subset = parts is not None and len(parts) >= 2 and parts[0] in SUBSET_FOLDERS
                if in_subset and parts[1] not in NEWSGROUPS:
                    raise _not_a_newsgroup(source, "/".join(parts[:2]), HOW_TO_FIX_PATH)
                if member.issym() or member.islnk():
                    links.append(member.name)
                    continue
                if not in_subset or len(parts) < 3:
                    continue  # not under 20news-bydate-{train,test}/<group>/: not read
                if len(parts) > 3 or not parts[2].isdigit():
                    raise _not_a_post(source, "/".join(parts[:4]), HOW_TO_FIX_PATH)
                if not member.isfile():
                    continue
                if member.size > MAX_POST_BYTES:  # from the header, before a byte of it is inflated
                    too_large.append(member.name)
                    continue
                total.add(member.size)
                posts.append(
                    (
                        SUBSET_FOLDERS.index(parts[0]),
                        parts[1],
                        parts[2],
                        archive.extractfile(member).read().decode(_ENCODING),
                    )
                )
            _read_to_the_end(archive, source)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise DataError(
            f"{shown(path)} is not a readable .tar.gz archive ({reason}): it is damaged or not "
            f"20 Newsgroups; {HOW_TO_GET_A_SOUND_COPY}"
        ) from error
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
            raise DataError(
                f"{source} is damaged: a tar header at byte {archive.offset:,} of its contents cannot "
                f"be read, so the posts after it would be lost; {HOW_TO_GET_A_SOUND_COPY}"
            )


def _not_a_post(source, entry, fix):
    """The error for a file in a newsgroup's folder that is not a post (posts are named by number), or a folder."""
    return DataError(
        f"{source} holds {entry!r}, which is not a post (posts are files named by number, such as "
        f"20news-bydate-train/sci.med/58043) and would be read as one; remove it, or {fix}"
    )


def _not_a_newsgroup(source, entry, fix, others=0):
    """The error for a file or folder beside the newsgroups, such as a study's results folder written into the data."""
    more = f" (and {count_of(others, 'other entry', 'other entries')})" if others else ""
    return DataError(
        f"{source} holds {entry!r}{more}, which is not one of the {len(NEWSGROUPS)} newsgroups "
        f"({NEWSGROUPS[0]}, ..., {NEWSGROUPS[-1]}) and would be read as one more; {fix}"
    )


def check_newsgroup_names(names, source):
    """Refuses label names that are not newsgroups (scikit-learn labels each folder of its extracted archive)."""
    strays = sorted(set(names) - set(NEWSGROUPS))
    if strays:
        raise _not_a_newsgroup(
            source,
            strays[0],
            "delete its 20news-bydate_py3.pkz so that scikit-learn "
            "downloads the archive again, or pass --data PATH to the original archive",
        )


class _TotalSize:
    """Adds up the bytes of the posts read, refusing a source whose posts exceed `MAX_TOTAL_BYTES` in all."""

    def __init__(self, source):
        self.source, self.bytes = source, 0

    def add(self, size):
        self.bytes += size
        if self.bytes > MAX_TOTAL_BYTES:
            raise DataError(
                f"{self.source} holds more than {MAX_TOTAL_BYTES // 2**20:,} MB of posts (20 Newsgroups holds "
                f"34 MB); it is not 20 Newsgroups; {HOW_TO_FIX_PATH}"
            )


def _warn_of_skipped_large_posts(names, source):
    if names:
        logger.warning(
            "Skipped %s larger than %d MB in %s, such as %s: no post is that large (the largest of "
            "20 Newsgroups is 157 KB).",
            count_of(len(names), "file"),
            MAX_POST_BYTES // 2**20,
            source,
            names[0],
        )


def _warn_of_skipped_links(links, source):
    # A link can point anywhere (/etc/passwd read as a post): never followed, but never silently either.
    if links:
        logger.warning(
            "Skipped %s in %s, such as %s: links are never followed; copy the files in instead.",
            count_of(len(links), "link"),
            source,
            links[0],
        )


def find_bydate_root(folder):
    """`folder` or its first sub-folder (sorted, links left out) that holds a `20news-bydate-*` folder."""
    candidates = [folder] + sorted(child for child in folder.iterdir() if _is_real_folder(child))
    for candidate in candidates:
        if any((candidate / subset).is_dir() for subset in SUBSET_FOLDERS):
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


def read_folder(root):
    """The posts under `root`, as the archive reader gives them: links are skipped, not followed."""
    posts, links, too_large = [], [], []
    total = _TotalSize(f"folder {shown(root)}")
    for subset_index, subset in enumerate(SUBSET_FOLDERS):
        subset_folder = root / subset
        if subset_folder.is_symlink():
            links.append(str(subset_folder))
            continue
        entries = sorted(subset_folder.iterdir()) if subset_folder.is_dir() else []
        strays = [entry.name for entry in entries if entry.name not in NEWSGROUPS]
        if strays:
            raise _not_a_newsgroup(
                f"folder {shown(subset_folder)}",
                strays[0],
                "move it out of the data folder (a study's --out belongs outside --data)",
                others=len(strays) - 1,
            )
        for group_folder in _entries(entries, links):
            for post_path in _entries(sorted(group_folder.iterdir()), links) if group_folder.is_dir() else ():
                if not post_path.name.isdigit() or not files.is_regular_file(post_path):
                    raise _not_a_post(
                        f"folder {shown(root)}", str(post_path.relative_to(root)), "pass the original archive"
                    )
                try:
                    size = post_path.stat().st_size
                    if size > MAX_POST_BYTES:
                        too_large.append(str(post_path))
                        continue
                    total.add(size)
                    text = post_path.read_bytes().decode(_ENCODING)
                except OSError as error:
                    raise DataError(files.describe_os_error(shown(post_path), error, writing=False)) from error
                posts.append((subset_index, group_folder.name, post_path.name, text))
    _warn_of_skipped_links(links, f"folder {shown(root)}")
    _warn_of_skipped_large_posts(too_large, f"folder {shown(root)}")
    return posts
