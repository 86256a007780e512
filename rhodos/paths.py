"""Paths the user gives: files read as data, files and folders written, each checked first.

Every input file of rhodos (sweep configs, machine profiles) is **data**: read as UTF-8
text and parsed with :mod:`tomllib`, never evaluated. :func:`read_toml` reads one and
turns everything that can go wrong into one error line that starts with the path --
a missing file, a folder, a device or pipe where a file is expected, a file too big to
be a config, text that is not UTF-8 or not TOML, nesting too deep to be a config.

Every output is checked before the work that fills it: :func:`check_output_file` and
:func:`check_output_folder` create the folders needed, refuse a folder where a file is
expected (and the reverse), and write a probe file to be sure the place is writable
and not full, so that hours of computing never end in "permission denied".
:func:`os_problem` says what an :class:`OSError` means in a few words.

This module imports nothing of rhodos, so the kernel may use it as well as the
experiments and the command line.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_NESTING",
    "OutputError",
    "check_output_file",
    "check_output_folder",
    "os_problem",
    "read_text",
    "read_toml",
]

#: The largest input file read (16 MiB): a config or a profile is a few KiB; anything
#: bigger is a mistake (``/dev/zero`` is refused as not a regular file before that).
MAX_INPUT_BYTES = 16 << 20
#: The deepest nesting of tables and arrays an input file may have. A sweep config
#: nests four levels (``[params.precopy]`` with a list); 16 leaves room, and keeps a
#: hostile 50,000-level file from exhausting Python's recursion anywhere downstream.
MAX_NESTING = 16

_WORDS = {
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EROFS: "on a read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large",
    errno.ENAMETOOLONG: "name too long",
    errno.ELOOP: "too many symbolic links",
    errno.EEXIST: "already exists",
}


class OutputError(ValueError):
    """An output cannot be written where it was asked: the message names the path."""


def os_problem(error: OSError) -> str:
    """What ``error`` means, in a few words (``permission denied``, ``no space left...``)."""
    if error.errno in _WORDS:
        return _WORDS[error.errno]
    return (error.strerror or type(error).__name__).lower()


# -- inputs --------------------------------------------------------------------------
def read_text(path: str | os.PathLike[str], error: type[ValueError]) -> str:
    """The UTF-8 text of the regular file ``path``; ``error("<path>: <what is wrong>")``."""
    path = Path(path)
    try:
        info = path.stat()
    except OSError as problem:
        raise error(f"{path}: cannot read: {os_problem(problem)}") from None
    except ValueError:  # a NUL byte in the name
        raise error(f"{path!r}: cannot read: not a valid file name") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a folder; give a file") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: is not a regular file (a device or a pipe); give a file")
    if info.st_size > MAX_INPUT_BYTES:
        raise error(
            f"{path}: is {info.st_size:,} bytes; an input file is at most "
            f"{MAX_INPUT_BYTES >> 20} MiB"
        )
    try:
        return path.read_text(encoding="utf-8")
    except OSError as problem:
        raise error(f"{path}: cannot read: {os_problem(problem)}") from None
    except UnicodeDecodeError as problem:
        raise error(f"{path}: not UTF-8 text ({problem.reason} at byte {problem.start})") from None


def parse_toml(text: str, origin: str, error: type[ValueError]) -> dict[str, Any]:
    """The tables of TOML ``text``; ``error("<origin>: not valid TOML: ...")`` when not."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as problem:
        raise error(f"{origin}: not valid TOML: {problem}") from None
    except RecursionError:
        raise error(
            f"{origin}: not valid TOML here: nested deeper than Python can parse "
            f"(an input nests at most {MAX_NESTING} levels)"
        ) from None
    except ValueError as problem:  # an integer of more digits than Python converts
        raise error(f"{origin}: not valid TOML here: {problem}".split("; use")[0]) from None
    depth = _nesting(data)
    if depth > MAX_NESTING:
        raise error(
            f"{origin}: tables and arrays nest {depth} levels deep; "
            f"an input nests at most {MAX_NESTING}"
        )
    return data


def read_toml(path: str | os.PathLike[str], error: type[ValueError]) -> dict[str, Any]:
    """The tables of the TOML file ``path``, as data; every problem an ``error`` naming it."""
    return parse_toml(read_text(path, error), str(path), error)


def _nesting(data: Any) -> int:
    """How deep tables and arrays nest in ``data`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth + 1)
        stack.extend((child, depth + 1) for child in children)
    return deepest


# -- outputs -------------------------------------------------------------------------
def _probe(folder: Path) -> None:
    """Write one byte to a temporary file in ``folder`` (and remove it): writable, not full."""
    handle, name = tempfile.mkstemp(prefix=".rhodos-probe-", dir=folder)
    try:
        os.write(handle, b"\n")
        os.fsync(handle)
    finally:
        os.close(handle)
        os.unlink(name)


def check_output_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Make the folder ``path`` (and its parents) and check that files can be written there.

    Raises:
        OutputError: naming the path and what is wrong (a file is in the way, no
            permission, a read-only or full file system).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{what} {folder}: is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _probe(folder)
    except OSError as problem:
        where = Path(problem.filename) if problem.filename else folder
        shown = folder if where.name.startswith(".rhodos-probe-") else where
        raise OutputError(f"{what} {shown}: cannot write there: {os_problem(problem)}") from None
    except ValueError:
        raise OutputError(f"{what} {folder!r}: not a valid folder name") from None
    return folder


def check_output_file(path: str | os.PathLike[str], what: str = "output file") -> Path:
    """Check that the file ``path`` can be written (making its folder), without touching it.

    A folder is refused; an existing file must be open-able for writing (a device such
    as ``/dev/stdout`` is accepted); a new file's folder must take a probe file.

    Raises:
        OutputError: naming the path and what is wrong.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{what} {target}: is a folder; give a file name")
    if target.name in ("", ".", ".."):
        raise OutputError(f"{what} {str(path)!r}: give a file name")
    try:
        if target.exists():
            with target.open("ab"):
                pass
            return target
    except OSError as problem:
        raise OutputError(f"{what} {target}: cannot write: {os_problem(problem)}") from None
    except ValueError:
        raise OutputError(f"{what} {str(path)!r}: not a valid file name") from None
    check_output_folder(target.parent, f"folder of the {what}")
    return target
