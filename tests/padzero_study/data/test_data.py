"""Tests for `padzero_study.data.newsgroups`: 20 Newsgroups archives and folders, the scikit-learn fallback, synthetic posts."""

import gzip
import io
import logging
import os
import tarfile
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sklearn.datasets
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.utils import Bunch

from padzero_study.data import bydate_files, synthetic
from padzero_study.data import newsgroups as data_module
from padzero_study.data.newsgroups import NEWSGROUPS, DataError, Newsgroups, load_newsgroups
from padzero_study.data.synthetic import SYNTHETIC_MAX_DOCS, make_synthetic_newsgroups, synthetic_post_lengths
from padzero_study.data.text import tokenize

# (subset folder, newsgroup, file name) -> Latin-1 bytes. "alt.atheism" only has a test post,
# so label names must come from both subsets.
FAKE_POSTS = {
    ("20news-bydate-train", "sci.space", "60151"): b"Subject: orbit\n\nThe shuttle's orbit.",
    ("20news-bydate-train", "comp.graphics", "38"): b"Subject: pixels\n\nVertex shaders.",
    ("20news-bydate-train", "comp.graphics", "100"): b"Subject: caf\xe9\n\nRendering at the caf\xe9.",
    ("20news-bydate-test", "sci.space", "61000"): b"Subject: moon\n\nLunar landers.",
    ("20news-bydate-test", "alt.atheism", "53000"): b"Subject: faith\n\nArguments.",
}


def load_look_alike(*args, **kwargs):
    """`load_newsgroups` for the fake posts: laid out like 20 Newsgroups, not its posts, so not verified."""
    return load_newsgroups(*args, verify=False, **kwargs)


def _expected_order():
    """Reference order: train before test, then group, then file name (as text, like sklearn's load_files)."""
    return sorted(FAKE_POSTS, key=lambda key: (key[0] != "20news-bydate-train", key[1], key[2]))


def _member(name, size=0, type=tarfile.REGTYPE, linkname=""):
    member = tarfile.TarInfo(name)  # TarInfo.replace() is missing from early Python 3.10 releases
    member.size, member.type, member.linkname = size, type, linkname
    return member


def _write_archive(path, posts=FAKE_POSTS, extra_members=()):
    """Writes a .tar.gz like the original: folder members, then one regular file per post."""
    with tarfile.open(path, mode="w:gz") as archive:
        for subset, group in sorted({key[:2] for key in posts}):
            for folder in (subset, f"{subset}/{group}"):
                archive.addfile(_member(folder, type=tarfile.DIRTYPE))
        for (subset, group, name), data in posts.items():
            archive.addfile(_member(f"{subset}/{group}/{name}", size=len(data)), io.BytesIO(data))
        for member, data in extra_members:
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return path


def _write_folder(root, posts=FAKE_POSTS):
    for (subset, group, name), data in posts.items():
        (root / subset / group).mkdir(parents=True, exist_ok=True)
        (root / subset / group / name).write_bytes(data)
    return root


def _assert_fake_posts(newsgroups):
    order = _expected_order()
    assert newsgroups.texts == [FAKE_POSTS[key].decode("latin-1") for key in order]
    assert newsgroups.label_names == ["alt.atheism", "comp.graphics", "sci.space"]
    assert newsgroups.labels.dtype == np.int64
    assert [newsgroups.label_names[label] for label in newsgroups.labels] == [group for _, group, _ in order]


def test_load_archive_reads_texts_labels_and_order(tmp_path):
    newsgroups = load_look_alike(_write_archive(tmp_path / "20news-bydate.tar.gz"))
    _assert_fake_posts(newsgroups)
    assert "caf\xe9" in newsgroups.texts[0]  # comp.graphics/100 comes first: "100" < "38" as text
    assert str(tmp_path) in newsgroups.source


@pytest.mark.parametrize("subfolder", ["", "20news_home"])
def test_load_extracted_folder_matches_archive(tmp_path, subfolder):
    root = tmp_path / "data"
    _write_folder(root / subfolder if subfolder else root)
    from_folder = load_look_alike(str(root))  # a str works as well as a Path
    from_archive = load_look_alike(_write_archive(tmp_path / "20news-bydate.tar.gz"))
    _assert_fake_posts(from_folder)
    assert from_folder.texts == from_archive.texts
    np.testing.assert_array_equal(from_folder.labels, from_archive.labels)


def _file(name, data=b"evil"):
    return _member(name), data


def _link(name, target, link_type):
    return _member(name, type=link_type, linkname=target), b""


def test_load_archive_skips_unsafe_and_unrelated_members(tmp_path, monkeypatch):
    unsafe_members = [
        _file("../evil"),
        _file("/abs/evil"),
        _file("/20news-bydate-train/sci.space/1"),  # right layout, but absolute
        _file("20news-bydate-train/../evil"),  # three parts, but one is ".."
        _file("20news-bydate-train/sci.space/../../evil"),
        _file("README"),
        _link("20news-bydate-train/sci.space/3", "/etc/passwd", tarfile.SYMTYPE),
        _link("20news-bydate-train/sci.space/4", "20news-bydate-train/sci.space/60151", tarfile.LNKTYPE),
    ]
    archive = _write_archive(tmp_path / "20news-bydate.tar.gz", extra_members=unsafe_members)
    work_folder = tmp_path / "work"
    work_folder.mkdir()
    monkeypatch.chdir(work_folder)
    files_before = sorted(tmp_path.rglob("*"))
    newsgroups = load_look_alike(archive)
    _assert_fake_posts(newsgroups)  # none of the extra members became a post
    assert "evil" not in " ".join(newsgroups.texts)
    assert sorted(tmp_path.rglob("*")) == files_before  # nothing extracted anywhere nearby
    assert not os.path.exists("/abs/evil")


def _skipped_links_warnings(caplog):
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and "links are never followed" in record.getMessage()
    ]


def test_load_archive_says_how_many_links_it_skipped(tmp_path, caplog):
    links = [
        _link("20news-bydate-train/sci.space/3", "/etc/passwd", tarfile.SYMTYPE),
        _link("20news-bydate-train/sci.space/4", "20news-bydate-train/sci.space/60151", tarfile.LNKTYPE),
    ]
    archive = _write_archive(tmp_path / "20news-bydate.tar.gz", extra_members=links)
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        _assert_fake_posts(load_look_alike(archive))
    (message,) = _skipped_links_warnings(caplog)
    assert message.startswith(f"Skipped 2 links in archive {archive}")


def test_load_folder_never_follows_links_out_of_it(tmp_path, caplog):
    # A folder is read like the archive: a link to a post, or to a whole group, is skipped, not followed.
    outside = tmp_path / "outside"
    (outside / "sci.crypt").mkdir(parents=True)
    (outside / "sci.crypt" / "1").write_bytes(b"Subject: secret group\n\nfrom outside")
    (outside / "passwd").write_bytes(b"root:x:0:0:secret file")
    root = _write_folder(tmp_path / "data")
    (root / "20news-bydate-train" / "sci.space" / "99999").symlink_to(outside / "passwd")
    (root / "20news-bydate-train" / "sci.crypt").symlink_to(outside / "sci.crypt", target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        newsgroups = load_look_alike(root)
    _assert_fake_posts(newsgroups)
    assert "secret" not in " ".join(newsgroups.texts)
    (message,) = _skipped_links_warnings(caplog)
    assert message.startswith(f"Skipped 2 links in folder {root}")


def test_load_folder_whose_subset_is_a_link_reads_nothing_through_it(tmp_path, caplog):
    real = _write_folder(tmp_path / "real")
    root = tmp_path / "data"
    root.mkdir()
    (root / "20news-bydate-train").symlink_to(real / "20news-bydate-train", target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        _assert_one_line_data_error(root, "holds no newsgroup posts")
    (message,) = _skipped_links_warnings(caplog)
    assert str(root / "20news-bydate-train") in message


def test_load_folder_without_links_warns_of_nothing(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        _assert_fake_posts(load_look_alike(_write_folder(tmp_path / "data")))
    assert _skipped_links_warnings(caplog) == []


def _assert_one_line_data_error(path, match, verify=False):
    with pytest.raises(DataError, match=match) as error:
        load_newsgroups(path, verify=verify)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_load_random_bytes_raises(tmp_path):
    corrupt = tmp_path / "20news-bydate.tar.gz"
    corrupt.write_bytes(np.random.default_rng(0).bytes(4096))
    message = _assert_one_line_data_error(corrupt, "is not a readable .tar.gz archive")
    assert str(corrupt) in message and "pass the original 20news-bydate.tar.gz" in message


def test_load_gzip_that_is_not_a_tar_and_tar_that_is_not_gzip_raise(tmp_path):
    not_a_tar = tmp_path / "text.tar.gz"
    not_a_tar.write_bytes(gzip.compress(b"just some text\n" * 100))
    _assert_one_line_data_error(not_a_tar, "is not a readable .tar.gz archive")
    plain_tar = tmp_path / "plain.tar"
    with tarfile.open(plain_tar, mode="w") as archive:
        archive.addfile(_member("20news-bydate-train/sci.space/1", size=2), io.BytesIO(b"hi"))
    _assert_one_line_data_error(plain_tar, "is not a readable .tar.gz archive")


@pytest.mark.parametrize("kept_fraction", [0.1, 0.5, 0.9])
def test_load_truncated_archive_raises(tmp_path, kept_fraction):
    # Posts of random letters do not compress, so every cut falls inside the data.
    rng = np.random.default_rng(0)
    posts = {key: bytes(rng.integers(97, 123, size=20_000, dtype=np.uint8)) for key in FAKE_POSTS}
    complete = _write_archive(tmp_path / "complete.tar.gz", posts=posts).read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(complete[: int(len(complete) * kept_fraction)])
    _assert_one_line_data_error(truncated, "is not a readable .tar.gz archive")


def test_load_fifo_raises_without_opening_it(tmp_path):
    # Opening a fifo blocks until a writer comes: the loader once hung forever.
    fifo = tmp_path / "20news-bydate.tar.gz"
    os.mkfifo(fifo)
    # A writer that closes at once, so that a loader that opens the fifo fails rather than hangs.
    writer = threading.Thread(target=lambda: open(fifo, "wb").close(), daemon=True)
    writer.start()
    try:
        message = _assert_one_line_data_error(fifo, "is not a regular file or folder")
    finally:
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer go if nothing read
        writer.join(timeout=10)  # with the reader open: closed at once, the writer could miss it and wait on
        os.close(reader)
    assert str(fifo) in message


def test_path_with_a_newline_is_shown_quoted(tmp_path):
    message = _assert_one_line_data_error(tmp_path / "nope\nline2.tar.gz", "does not exist")
    assert repr(str(tmp_path / "nope\nline2.tar.gz")) in message


def test_load_archive_skips_a_member_too_large_for_a_post_without_reading_it(tmp_path, caplog, monkeypatch):
    # A gzip bomb: a 1.4 MB archive once inflated to one 1.5 GB "post". Zeros compress ~1000:1, so this stays cheap.
    bomb = _member("20news-bydate-train/sci.space/9"), bytes(bydate_files.MAX_POST_BYTES + 1)
    archive = _write_archive(tmp_path / "20news-bydate.tar.gz", extra_members=[bomb])
    read_sizes = []
    real_extractfile = tarfile.TarFile.extractfile
    monkeypatch.setattr(
        tarfile.TarFile,
        "extractfile",
        lambda self, member: read_sizes.append(member.size) or real_extractfile(self, member),
    )
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        _assert_fake_posts(load_look_alike(archive))
    assert max(read_sizes) <= bydate_files.MAX_POST_BYTES
    (message,) = [record.getMessage() for record in caplog.records if "larger than" in record.getMessage()]
    assert message.startswith(f"Skipped 1 file larger than 4 MB in archive {archive}")


def test_load_folder_skips_a_file_too_large_for_a_post(tmp_path, caplog):
    root = _write_folder(tmp_path / "extracted")
    with open(root / "20news-bydate-train" / "sci.space" / "9", "wb") as file:
        file.truncate(bydate_files.MAX_POST_BYTES + 1)  # sparse: costs no disk
    with caplog.at_level(logging.WARNING, logger="padzero_study.data.newsgroups"):
        _assert_fake_posts(load_look_alike(root))
    assert any("Skipped 1 file larger than 4 MB" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_load_refuses_posts_too_large_in_all(tmp_path, monkeypatch, layout):
    monkeypatch.setattr(bydate_files, "MAX_TOTAL_BYTES", sum(map(len, FAKE_POSTS.values())) - 1)
    path = _write_archive(tmp_path / "a.tar.gz") if layout == "archive" else _write_folder(tmp_path / "extracted")
    _assert_one_line_data_error(path, "MB of posts .20 Newsgroups holds 34 MB.; it is not 20 Newsgroups")


def test_load_missing_path_raises(tmp_path):
    message = _assert_one_line_data_error(tmp_path / "nowhere.tar.gz", "does not exist")
    assert str(tmp_path / "nowhere.tar.gz") in message


@pytest.mark.parametrize("layout", ["empty folder", "empty subsets", "archive of other files"])
def test_load_source_without_posts_raises(tmp_path, layout):
    if layout == "empty folder":
        path = tmp_path
    elif layout == "empty subsets":
        path = tmp_path
        (tmp_path / "20news-bydate-train" / "sci.space").mkdir(parents=True)
        (tmp_path / "20news-bydate-test").mkdir()
    else:
        path = _write_archive(tmp_path / "other.tar.gz", posts={}, extra_members=[_file("docs/readme")])
    _assert_one_line_data_error(path, "holds no newsgroup posts")


def test_the_newsgroups_are_twenty_sorted_names():
    assert len(NEWSGROUPS) == len(set(NEWSGROUPS)) == 20 and list(NEWSGROUPS) == sorted(NEWSGROUPS)
    assert {group for _, group, _ in FAKE_POSTS} <= set(NEWSGROUPS)


# A study's results folder written into the data (padzero reproduce --out DATA/20news-bydate-train/zz.out) was read
# as a 21st newsgroup, in that run and every later one.
@pytest.mark.parametrize("subset", ["20news-bydate-train", "20news-bydate-test"])
@pytest.mark.parametrize("kind", ["folder", "file"])
def test_load_folder_refuses_an_entry_beside_the_newsgroups(tmp_path, subset, kind):
    root = _write_folder(tmp_path / "data")
    stray = root / subset / "zz.out"
    if kind == "folder":
        stray.mkdir()
        (stray / "results.jsonl").write_text("{}\n")
    else:
        stray.write_text("notes")
    message = _assert_one_line_data_error(root, "which is not one of the 20 newsgroups")
    assert f"folder {root / subset} holds 'zz.out', which is not" in message and "move it out" in message


def test_load_folder_names_the_first_of_several_strays_and_counts_the_rest(tmp_path):
    root = _write_folder(tmp_path / "data")
    for name in ("zz.out", "runs", "a\nb"):
        (root / "20news-bydate-train" / name).mkdir()
    message = _assert_one_line_data_error(root, "not one of the 20 newsgroups")
    assert "holds 'a\\nb' (and 2 other entries), which is not" in message


@pytest.mark.parametrize(
    "member",
    [
        _file("20news-bydate-train/zz.out/results.jsonl", b'{"record": "epoch"}'),
        _file("20news-bydate-test/README", b"notes"),
        (_member("20news-bydate-train/zz.out", type=tarfile.DIRTYPE), b""),
        _link("20news-bydate-train/zz.out", "sci.space", tarfile.SYMTYPE),
    ],
)
def test_load_archive_refuses_an_entry_beside_the_newsgroups(tmp_path, member):
    archive = _write_archive(tmp_path / "20news-bydate.tar.gz", extra_members=[member])
    message = _assert_one_line_data_error(archive, "which is not one of the 20 newsgroups")
    entry = "/".join(member[0].name.split("/")[:2])
    assert f"archive {archive} holds {entry!r}" in message and "pass the original 20news-bydate.tar.gz" in message


@pytest.mark.parametrize("name", [".DS_Store", "deeper/2", "notes.txt"])
def test_load_archive_refuses_a_file_in_a_newsgroup_that_is_not_a_post(tmp_path, name):
    # A stray .DS_Store once became post 18,847, with no word in it.
    archive = _write_archive(
        tmp_path / "20news-bydate.tar.gz", extra_members=[_file(f"20news-bydate-train/sci.med/{name}")]
    )
    message = _assert_one_line_data_error(archive, "which is not a post")
    assert f"'20news-bydate-train/sci.med/{name}'" in message


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_load_folder_refuses_an_entry_in_a_newsgroup_that_is_not_a_post(tmp_path, kind):
    root = _write_folder(tmp_path / "data")
    stray = root / "20news-bydate-test" / "sci.space" / ".DS_Store"
    stray.mkdir() if kind == "folder" else stray.write_bytes(b"\x00\x00\x00\x01Bud1")
    message = _assert_one_line_data_error(root, "which is not a post")
    assert "'20news-bydate-test/sci.space/.DS_Store'" in message


def _tar_bytes(posts=FAKE_POSTS):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for (subset, group, name), data in posts.items():
            archive.addfile(_member(f"{subset}/{group}/{name}", size=len(data)), io.BytesIO(data))
    return bytearray(buffer.getvalue())


def test_load_archive_with_a_damaged_header_is_refused_not_read_in_part(tmp_path):
    # tarfile takes a damaged header after the first member for the end of the archive, without a word:
    # 42 KB of garbage in the real archive once gave 9,619 of its 18,846 posts.
    contents = _tar_bytes()
    third_header = 2 * (512 + 512)  # each fake post fits one 512-byte block after its header
    contents[third_header + 148 : third_header + 156] = b"garbage!"  # the header's checksum field
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(gzip.compress(bytes(contents)))
    message = _assert_one_line_data_error(archive, "is damaged: a tar header at byte 2,048")
    assert "gzip -t" in message


@pytest.mark.parametrize("position", ["crc", "length"])
def test_load_archive_whose_gzip_check_fails_is_refused(tmp_path, position):
    # One flipped bit once changed 29 posts unnoticed: the gzip trailer's CRC-32 and length were never read.
    compressed = bytearray(gzip.compress(bytes(_tar_bytes()) + bytes(10240)))
    compressed[-8 if position == "crc" else -4] ^= 1
    archive = tmp_path / "20news-bydate.tar.gz"
    archive.write_bytes(bytes(compressed))
    message = _assert_one_line_data_error(archive, "is not a readable .tar.gz archive")
    assert ("CRC check failed" if position == "crc" else "Incorrect length") in message and "gzip -t" in message


def test_load_verifies_the_posts_are_20_newsgroups(tmp_path):
    # The fake posts are laid out like 20 Newsgroups, but are not its posts: refused unless verify=False.
    archive = _write_archive(tmp_path / "20news-bydate.tar.gz")
    with pytest.raises(
        DataError,
        match="is not a sound copy of 20 Newsgroups: 20news-bydate-test/alt.atheism holds "
        "1 post where 20 Newsgroups has 319 .and 39 other folders differ.",
    ) as error:
        load_newsgroups(archive)
    assert "\n" not in str(error.value)
    _assert_fake_posts(load_look_alike(archive))


# --- scikit-learn fallback --------------------------------------------------------------


def _fake_fetch(outcomes, calls):
    """A stand-in for fetch_20newsgroups that records its arguments and returns/raises `outcomes` in turn."""

    def fetch_20newsgroups(**kwargs):
        calls.append(kwargs)
        outcome = outcomes[len(calls) - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return fetch_20newsgroups


@pytest.mark.parametrize("download", [False, True])
def test_sklearn_fallback_failure_says_what_to_provide(monkeypatch, download):
    calls = []
    failures = [OSError("20Newsgroups dataset not found"), OSError("<urlopen error no network>")]
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch(failures, calls))
    with pytest.raises(DataError) as error:
        load_look_alike(data_home="/nowhere/sklearn", download=download)
    message = str(error.value)
    for hint in ("--data PATH", "SCIKIT_LEARN_DATA", "/nowhere/sklearn", "network access", "--dataset synthetic"):
        assert hint in message
    assert "\n" not in message
    assert [call["download_if_missing"] for call in calls] == ([False, True] if download else [False])
    assert all(call["subset"] == "all" and call["shuffle"] is False for call in calls)
    assert all(call["data_home"] == "/nowhere/sklearn" for call in calls)


@pytest.mark.parametrize("download", [False, True])
def test_sklearn_fallback_failure_is_said_in_the_command_words(monkeypatch, download):
    # It once ended "(download=True)": the keyword of load_newsgroups, which no flag of the command is.
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([OSError("missing")] * 2, []))
    with pytest.raises(DataError) as error:
        load_look_alike(data_home="/nowhere/sklearn", download=download)
    assert "download=" not in str(error.value)


def test_sklearn_fallback_failure_leaves_no_folder_it_created(monkeypatch, tmp_path):
    # scikit-learn creates its data home and 20news_home before it finds there is nothing to download.
    def fetch_20newsgroups(data_home, **kwargs):
        (Path(data_home) / "20news_home").mkdir(parents=True, exist_ok=True)
        raise OSError("no network")

    (tmp_path / "old").mkdir()
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", fetch_20newsgroups)
    for home in (tmp_path / "new" / "sklearn", tmp_path / "old"):
        with pytest.raises(DataError, match="20 Newsgroups not found"):
            load_look_alike(data_home=str(home))
    assert sorted(tmp_path.rglob("*")) == [tmp_path / "old"]  # what was there before stays


def test_sklearn_posts_of_a_folder_that_is_not_a_newsgroup_are_refused(monkeypatch):
    # scikit-learn labels every folder of the archive it extracted, a stray one included.
    bunch = Bunch(data=["orbit", "results"], target=np.array([0, 1]), target_names=["sci.space", "zz.out"])
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([bunch], []))
    with pytest.raises(DataError, match="holds 'zz.out', which is not one of the 20 newsgroups") as error:
        load_look_alike(data_home="/nowhere/sklearn")
    assert "20news-bydate_py3.pkz" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("download, expected_calls", [(False, 1), (True, 1)])
def test_sklearn_data_home_is_used_before_downloading(monkeypatch, download, expected_calls):
    calls = []
    bunch = Bunch(data=["orbit", "pixels"], target=np.array([1, 0]), target_names=["comp.graphics", "sci.space"])
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([bunch], calls))
    newsgroups = load_look_alike(download=download)
    assert len(calls) == expected_calls and calls[0]["download_if_missing"] is False
    assert newsgroups.texts == ["orbit", "pixels"] and newsgroups.labels.dtype == np.int64
    assert newsgroups.label_names == ["comp.graphics", "sci.space"]


def test_sklearn_posts_are_verified(monkeypatch):
    names = ["/home/sk/20news_home/20news-bydate-train/sci.space/60151"]
    bunch = Bunch(data=["orbit"], target=np.array([0]), target_names=["sci.space"], filenames=np.array(names))
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([bunch], []))
    with pytest.raises(DataError, match="20news-bydate-test/alt.atheism holds 0 posts where") as error:
        load_newsgroups(data_home="/nowhere/sklearn")
    assert "20news-bydate_py3.pkz" in str(error.value)


def test_sklearn_download_is_tried_only_when_allowed(monkeypatch):
    calls = []
    bunch = Bunch(data=["orbit"], target=np.array([0]), target_names=["sci.space"])
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([OSError("missing"), bunch], calls))
    assert load_look_alike(download=True).texts == ["orbit"]
    assert [call["download_if_missing"] for call in calls] == [False, True]


def test_explicit_data_path_never_falls_back_to_sklearn(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(sklearn.datasets, "fetch_20newsgroups", _fake_fetch([], calls))
    with pytest.raises(DataError, match="does not exist"):
        load_look_alike(tmp_path / "missing.tar.gz")
    assert calls == []


def test_newsgroups_rejects_labels_that_do_not_fit():
    with pytest.raises(DataError, match="one label per text"):
        Newsgroups(["a", "b"], np.array([0]), ["only"], "hand-made")
    with pytest.raises(DataError, match=r"labels must be in \[0, 1\)"):
        Newsgroups(["a"], np.array([1]), ["only"], "hand-made")


# --- synthetic stand-in -----------------------------------------------------------------


def test_synthetic_is_deterministic_per_seed():
    first, again, other = (make_synthetic_newsgroups(300, seed=seed) for seed in (0, 0, 1))
    assert first.texts == again.texts
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.texts != other.texts


def test_synthetic_has_the_shapes_of_the_real_data():
    newsgroups = make_synthetic_newsgroups(num_docs=200, num_classes=5, seed=3)
    assert len(newsgroups.texts) == 200 and newsgroups.labels.shape == (200,)
    assert newsgroups.labels.dtype == np.int64
    assert newsgroups.label_names == [f"synthetic.{label}" for label in range(5)]
    np.testing.assert_array_equal(np.bincount(newsgroups.labels), [40] * 5)
    # Every generated word is a letters-only non-stop word, so tokenizing keeps it as is.
    assert all(tokenize(text) == text.split() for text in newsgroups.texts)


def test_synthetic_lengths_are_long_tailed():
    lengths = np.array([len(text.split()) for text in make_synthetic_newsgroups().texts])
    assert lengths.min() >= 3
    assert 70 <= np.median(lengths) <= 140
    assert lengths.mean() > 1.3 * np.median(lengths)
    assert 0.002 < np.mean(lengths > 1_100) < 0.05  # a few posts get truncated
    assert np.mean(np.minimum(lengths, 1_100)) / 1_100 < 0.2  # so padding dominates a 1,100-id row


def test_synthetic_is_learnable_by_a_bag_of_words_model():
    newsgroups = make_synthetic_newsgroups(num_docs=1_000, num_classes=20, seed=0)
    # Word presence, not counts: lbfgs converges in about a second instead of ten on long posts.
    features = CountVectorizer(binary=True).fit_transform(newsgroups.texts)
    model = LogisticRegression(max_iter=1_000).fit(features[:800], newsgroups.labels[:800])
    accuracy = model.score(features[800:], newsgroups.labels[800:])  # about 0.75 for seed 0
    assert accuracy > 3 / 20


def test_synthetic_posts_take_their_lengths_from_synthetic_post_lengths(monkeypatch):
    # One owner of the length distribution: make_synthetic_newsgroups draws nothing of its own.

    wanted = np.array([3, 1_500, 7, 12], dtype=np.int64)
    monkeypatch.setattr(synthetic, "synthetic_post_lengths", lambda count, seed: wanted[:count])
    newsgroups = make_synthetic_newsgroups(num_docs=4, num_classes=2)
    assert [len(text.split()) for text in newsgroups.texts] == wanted.tolist()


def test_synthetic_post_lengths_are_seeded_and_bounded():
    first, again, other = (
        synthetic_post_lengths(5_000, seed=0),
        synthetic_post_lengths(5_000),
        synthetic_post_lengths(5_000, 1),
    )
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.dtype == np.int64 and first.shape == (5_000,)
    assert first.min() >= 3 and first.max() <= 20_000
    assert 90 <= np.median(first) <= 110
    assert 0.005 < np.mean(first > 1_100) < 0.03
    assert synthetic_post_lengths(0).shape == (0,)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_docs": 0}, "num_docs"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_docs": 2.0}, "num_docs"),
        ({"num_docs": True}, "num_docs"),
    ],
)
def test_synthetic_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=f"{name} must be .*received {name}="):
        make_synthetic_newsgroups(**kwargs)


def test_synthetic_refuses_sizes_that_cannot_fit_before_allocating():
    # What `--dataset synthetic --max-docs 1000000000000` asks for: once a MemoryError after a long wait.
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            make_synthetic_newsgroups(num_docs=10**12)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(error.value).startswith(
        f"num_docs must be a positive integer of at most {SYNTHETIC_MAX_DOCS:,}; received num_docs=1000000000000; "
    )
    assert "\n" not in str(error.value)
    assert peak < 2**20  # nothing was drawn
    with pytest.raises(ValueError, match="at most 200,000"):
        make_synthetic_newsgroups(num_docs=SYNTHETIC_MAX_DOCS + 1)
    assert len(make_synthetic_newsgroups(num_docs=np.int64(25)).texts) == 25  # NumPy integers are integers


# --- the real archive -------------------------------------------------------------------


@pytest.mark.slow
def test_load_real_archive(newsgroups_archive):
    newsgroups = load_newsgroups(newsgroups_archive)
    assert len(newsgroups.texts) == 18_846
    assert newsgroups.label_names == list(NEWSGROUPS)
    # Reference: posts per (subset, group) counted from the archive's member list.
    with tarfile.open(newsgroups_archive, mode="r:gz") as archive:
        member_parts = [member.name.split("/") for member in archive if member.isfile()]
    posts_per_subset = {}
    for subset, group, _ in member_parts:
        counts = posts_per_subset.setdefault(subset, np.zeros(20, int))
        counts[newsgroups.label_names.index(group)] += 1
    assert posts_per_subset["20news-bydate-train"].sum() == 11_314
    assert posts_per_subset["20news-bydate-test"].sum() == 7_532
    # Train posts come first, so the label counts of each block match their subset.
    train_labels, test_labels = newsgroups.labels[:11_314], newsgroups.labels[11_314:]
    np.testing.assert_array_equal(np.bincount(train_labels), posts_per_subset["20news-bydate-train"])
    np.testing.assert_array_equal(np.bincount(test_labels), posts_per_subset["20news-bydate-test"])


def test_load_refuses_a_changed_or_missing_post_in_an_extracted_folder(tmp_path, monkeypatch):
    # The reference made from the fake posts, as `newsgroups_checksums` was made from a sound copy of the real ones.
    from padzero_study.data.newsgroups_checksums import posts_checksum

    reference = {}
    for (subset, group, name), text in sorted(FAKE_POSTS.items()):
        reference.setdefault(subset, {}).setdefault(group, []).append((name, text.decode("latin-1")))
    monkeypatch.setattr(
        data_module,
        "BYDATE_POSTS",
        {
            subset: {group: (len(posts), posts_checksum(posts)) for group, posts in groups.items()}
            for subset, groups in reference.items()
        },
    )
    root = _write_folder(tmp_path / "data")
    _assert_fake_posts(load_newsgroups(root))  # sound: accepted, verified
    post = root / "20news-bydate-train" / "comp.graphics" / "100"
    content = bytearray(post.read_bytes())
    content[3] ^= 1  # one flipped bit
    post.write_bytes(bytes(content))
    _assert_one_line_data_error(root, "the posts of 20news-bydate-train/comp.graphics differ from 20 Newsgroups'", True)
    post.unlink()
    _assert_one_line_data_error(root, "20news-bydate-train/comp.graphics holds 1 post where 20 Newsgroups has 2", True)
    assert len(load_look_alike(root).texts) == 4  # what verify=False is for
