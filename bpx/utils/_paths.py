"""File paths checked before any work: an output file in an existing folder, an input that is a regular
file, and outputs that never resolve to an input.

One place for the checks that ``bpx.save``, ``bpx.export``, ``fit(checkpoint=...)``, the callbacks that
write files and every ``bpx`` command make (docs/development/architecture.md: bad input is refused
before any work). Paths are compared by their real paths (symlinks resolved), so ``--out link.csv``
where ``link.csv`` points at the data is caught like ``--out data.csv``.
"""

from __future__ import annotations

import os
import stat


def as_path(path, name="path"):
    """``path`` as a str; a TypeError naming ``name`` for anything but a str or an os.PathLike."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def check_output_file(path, name="path"):
    """``path`` (a str) when it names a file (not a directory) in an existing folder, else a ValueError
    naming ``name`` (no name: the message starts with the problem, as argparse's types want)."""
    path = as_path(path, name or "path")
    prefix = f"{name}: " if name else ""
    if not path or os.path.isdir(path):
        raise ValueError(f"{prefix}{path!r} is a directory, not a file name (such as model.npz)" if path
                         else f"{prefix}expected a file name, got ''")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{prefix}the folder of {path!r} ({folder}) does not exist")
    return path


def regular_file_problem(path):
    """Why ``path`` cannot be read as a file (``"no such file"``, ``"not a regular file (a directory)"``,
    ...), or None for a regular file. Symlinks are followed: a link to ``/dev/zero`` is not a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file" if not os.path.islink(path) else "no such file (a broken symbolic link)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a directory" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
            else "a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a file")
    return f"not a regular file ({kind})"


def real(path):
    """The real path of ``path`` (symlinks resolved, also those of a file that does not exist yet)."""
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def same_file(a, b):
    """True when the paths ``a`` and ``b`` name one file (the same real path, or the same inode)."""
    if real(a) == real(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links
    except OSError:
        return False


def output_clash(outputs, inputs=None):
    """The first problem among ``outputs`` (``{option: path or None}``) and ``inputs`` (likewise): an
    output that is an input (``"--out: the same file as --data (t.csv); ..."``) or two outputs that are one
    file; None when they are all apart. Options with a None path are skipped."""
    outputs = [(k, v) for k, v in outputs.items() if v is not None]
    inputs = [(k, v) for k, v in (inputs or {}).items() if v is not None]
    for i, (option, path) in enumerate(outputs):
        for other, source in inputs:
            if same_file(path, source):
                return f"{option}: the same file as {other} ({path}); bpx never overwrites an input"
        for other, earlier in outputs[:i]:
            if same_file(path, earlier):
                return f"{option}: the same file as {other} ({path})"
    return None
