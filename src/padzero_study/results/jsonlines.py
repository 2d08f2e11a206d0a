"""JSON lines, the format of every record file of a study folder: one writer, one reader, one rule for a last line
cut short.

`append_record` writes a line with one write() and an fsync, so a kill can only cut the file's last line short;
`read_records` skips such a line (and says so) and refuses any other line that is not one JSON object.
"""

import json
import logging
import os

from padzero_study.files import FileError, check_own_file, describe_os_error, read_own_file, write_own_file

logger = logging.getLogger(__name__)

_BOM = b"\xef\xbb\xbf"


class ResultsError(FileError):
    """A results, diagnostics or config file cannot be used as it is (one line naming the file, the line and a fix)."""


def append_record(path, record):
    """Appends `record` as one JSON line with a single write() and an fsync.

    One write per line means a kill can only cut the file's last line short,
    which `read_lines` then skips; the fsync keeps a finished run's lines
    through a power cut.

    Args:
        path: the JSON-lines file, created if absent.
        record: a dict of JSON values (NaN allowed: a diverged run's loss).

    Returns:
        The number of bytes written.
    """
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    check_own_file(path, must_exist=False)
    try:
        # O_NOFOLLOW: a link planted at the name must not make this write elsewhere.
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as error:
        raise ResultsError(describe_os_error(path, error, writing=True)) from None
    try:
        remaining = memoryview(line)
        while remaining:  # write() may take less than asked (a full disk, a signal)
            remaining = remaining[os.write(descriptor, remaining) :]
        os.fsync(descriptor)
    except OSError as error:
        raise ResultsError(describe_os_error(path, error, writing=True)) from None
    finally:
        os.close(descriptor)
    return len(line)


def rewrite_records(path, records):
    """Replaces `path` whole by `records`, one JSON line each (a temporary file, then an atomic rename)."""
    write_own_file(path, "".join(json.dumps(record, sort_keys=True) + "\n" for record in records))


def _complete_lines(path, follow_links=False):
    """([(line number, bytes)], the cut last line): the file split into complete lines, and the bytes after
    its last newline (empty for a complete file).

    A UTF-8 byte order mark at the start (an editor's) is dropped.
    """
    content = read_own_file(path, follow_links=follow_links)
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    pieces = content.split(b"\n")
    # The piece after the last newline is empty for a complete file; anything else is a line cut short.
    return [(number, piece) for number, piece in enumerate(pieces[:-1], start=1) if piece.strip()], pieces[-1]


class DuplicateKey(ValueError):
    """A JSON object with the same key twice."""


def _refuse_duplicate_keys(pairs):
    record = {}
    for key, value in pairs:
        if key in record:
            raise DuplicateKey(key)
        record[key] = value
    return record


def parse_json(text):
    """`json.loads` refusing an object with the same key twice (which `json` would silently resolve to the last)."""
    return json.loads(text, object_pairs_hook=_refuse_duplicate_keys)


def read_records(path, *, follow_links=False):
    """([(where, record)], cut): every complete JSON object of a JSON-lines file in file order, each with its
    'file line N' for messages, and whether the last line was cut short.

    The one rule for a cut last line: a last line without its newline is a
    write cut short (the process was stopped or the disk was full, or a write
    still under way in another process); it is skipped, and that is logged.
    Any other line that is not one JSON object is an error.

    Raises:
        ResultsError: naming the file and line, for a line that is not UTF-8,
            not JSON or not an object, or has a key twice; naming the file when
            it does not exist, is a link (unless `follow_links`) or is not a regular file.
    """
    lines, cut = _complete_lines(path, follow_links)
    records = []
    for number, raw in lines:
        where = f"{path} line {number}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ResultsError(
                f"{where} is not UTF-8 text (byte {error.start + 1}); fix or delete that line."
            ) from None
        try:
            record = parse_json(text)  # NaN and Infinity parse: a diverged run writes them
        except DuplicateKey as error:
            raise ResultsError(f"{where} has the key {json.dumps(error.args[0])} twice; keep one of them.") from None
        except (ValueError, RecursionError) as error:  # ValueError: bad JSON, or an integer of too many digits
            detail = error.msg if isinstance(error, json.JSONDecodeError) else "nested too deeply, or a number too long"
            raise ResultsError(
                f"{where} is not valid JSON ({detail}); received {text[:60]!r}. Fix or delete that line."
            ) from None
        if not isinstance(record, dict):
            kind = {list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
                type(record), "a number"
            )
            raise ResultsError(f"{where} is not a JSON object but {kind} ({text[:60]!r}); fix or delete that line.")
        records.append((where, record))
    if cut:
        logger.warning(
            "Skipped the incomplete last line of %s: a write cut short (the process was stopped or "
            "the disk was full) or still under way.",
            path,
        )
    return records, bool(cut)


def read_lines(path, *, follow_links=False):
    """The records of `read_records`, alone."""
    return [record for _, record in read_records(path, follow_links=follow_links)[0]]
