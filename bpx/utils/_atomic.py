"""Files written whole or not at all: atomic, durable writes and the checksum of a list of arrays.

:func:`write_atomically` writes through a temporary file in the target's folder, fsyncs it, then
``os.replace`` s it onto the target and fsyncs the folder (Orbax's write-to-temp-then-rename), so a
crash or a SIGKILL at any moment leaves the old file (or none), never half a file. Model files
(:mod:`bpx.io`) and training checkpoints (:mod:`bpx.training`) both use it; this
module imports nothing else from bpx, so anything may use it without an import cycle.

Host-side glue, like persistence (docs/development/architecture.md, "The math never imports an array
library"): the checksum reads host NumPy arrays (what :func:`bpx.to_numpy` returns), never a backend's
arrays, and nothing here is on the training step's path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile

import numpy as np


def digest(arrays):
    """The SHA-256 (hex) of the arrays' bytes, little-endian, in order."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def write_atomically(path, write):
    """Call ``write(f)`` on a temporary file in ``path``'s folder, fsync it, then ``os.replace`` it onto
    ``path`` and fsync the folder: a crash or an error leaves the old file (or none), never half a file."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.chmod(tmp, _file_mode(path))  # mkstemp makes 0600; give the mode a plain open() would
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _file_mode(path):
    """The replaced file's permissions, else what ``open(path, "w")`` would create (0666 minus umask)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(folder):
    with contextlib.suppress(OSError):  # not every OS or filesystem lets a folder be fsynced
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
