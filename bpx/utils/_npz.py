"""Reading bpx's own ``.npz`` files (models, checkpoints) without trusting them.

:func:`read_npz` checks, before reading any array: that the path is a regular file (a FIFO or a link to
``/dev/zero`` would hang or never end), that every member is stored uncompressed and unencrypted as bpx
writes them (so no member can expand past the bytes on disk: no zip bomb), that no name repeats or
leaves the archive's flat namespace, that each member's ``.npy`` header is small, well formed, of a
plain numeric dtype and declares exactly the bytes the member holds, and that a member is no larger than
the caller allows. Every refusal is ``error(reason)``, the caller's own exception naming the file.
"""

from __future__ import annotations

import ast
import re
import zipfile

import numpy as np

from ._paths import regular_file_problem

MAX_NPY_HEADER = 64 * 1024  # bytes of one member's .npy header (numpy's own default limit is 10,000)
_NAME = re.compile(r"[A-Za-z0-9_]{1,64}\.npy")


def _npy_header(raw, name, error, numeric_only=True):
    """``(dtype, shape, offset)`` of a ``.npy`` member's bytes, checked without numpy's pickle path."""
    if raw[:6] != b"\x93NUMPY":
        raise error(f"{name} is not a .npy array (no NumPy magic bytes)")
    major = raw[6]
    if major == 1:
        size, start = int.from_bytes(raw[8:10], "little"), 10
    elif major in (2, 3):
        size, start = int.from_bytes(raw[8:12], "little"), 12
    else:
        raise error(f"member {name!r}: unknown .npy format version {major}")
    if size > MAX_NPY_HEADER:
        raise error(f"member {name!r}: a .npy header of {size} bytes (the limit is {MAX_NPY_HEADER})")
    text = raw[start:start + size]
    if len(text) < size:
        raise error(f"member {name!r} is truncated (inside its .npy header)")
    try:
        meta = ast.literal_eval(text.decode("latin1"))
        dtype = np.dtype(meta["descr"])
        shape, fortran = tuple(meta["shape"]), meta["fortran_order"]
    except (ValueError, SyntaxError, TypeError, KeyError, MemoryError, RecursionError) as exc:
        raise error(f"member {name!r}: malformed .npy header ({type(exc).__name__})") from None
    if dtype.hasobject:
        raise error(f"{name} holds Python objects, which only a pickle can restore; bpx never loads pickles")
    if numeric_only and (dtype.kind not in "biuf" or dtype.fields is not None):
        raise error(f"member {name!r} holds {dtype} values; bpx stores plain numbers only")
    bad_shape = not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    if (fortran is not False and (numeric_only or fortran is not True)) or bad_shape:
        raise error(f"member {name!r}: malformed .npy header (shape {shape!r}, fortran_order {fortran!r})")
    return (dtype, shape, start + size) if numeric_only else (dtype, shape, start + size, fortran)


def read_npz(path, error, limit=None, names=None, kind="file"):
    """``{name: array}`` of the members of the bpx ``.npz`` at ``path`` (``names``: only those, in a
    first pass for headers), each checked as the module says; ``limit(name)`` is the largest number of
    bytes the member may hold (None: the file's size bounds it)."""
    problem = regular_file_problem(path)
    if problem is not None:
        raise error(problem)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise error(f"not a bpx {kind} (not an .npz archive: truncated or foreign; {exc})") from None
    with archive:
        infos = archive.infolist()
        seen = set()
        for info in infos:
            if info.filename in seen:
                raise error(f"the archive holds member {info.filename!r} twice")
            seen.add(info.filename)
            if not _NAME.fullmatch(info.filename):
                raise error(f"unexpected member name {info.filename!r}")
            if info.flag_bits & 0x1:
                raise error(f"member {info.filename!r} is encrypted")
            if info.compress_type != zipfile.ZIP_STORED or info.compress_size != info.file_size:
                raise error(f"member {info.filename!r} is compressed; bpx writes its files uncompressed")
        arrays = {}
        for info in infos:
            name = info.filename[:-4]
            if names is not None and name not in names:
                continue
            cap = limit(name) if limit is not None else None
            if cap is not None and info.file_size > cap + MAX_NPY_HEADER + 128:
                raise error(f"{name} of {info.file_size} bytes exceeds the {cap}-byte limit (what its shape in "
                            f"the file's own description allows)")
            try:
                with archive.open(info) as f:
                    raw = f.read(MAX_NPY_HEADER + 16)
                    dtype, shape, offset = _npy_header(raw, info.filename, error)
                    count = 1
                    for d in shape:
                        count *= d
                    need = count * dtype.itemsize
                    if offset + need != info.file_size:
                        raise error(f"member {info.filename!r} declares shape {shape} of {dtype} ({need} bytes); "
                                    f"it holds {info.file_size - offset}")
                    if cap is not None and need > cap:
                        raise error(f"member {info.filename!r} of shape {shape} is larger than its part of the "
                                    f"file allows ({cap} bytes)")
                    data = raw[offset:] + f.read(need - len(raw[offset:]))
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
                if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
                    raise
                raise error(f"member {info.filename!r} is unreadable ({exc})") from None
            if len(data) != need:
                raise error(f"member {info.filename!r} is truncated")
            arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    return arrays


def npy_header(raw, name, error):
    """``(dtype, shape, offset, fortran_order)`` of the bytes that begin a ``.npy`` array, checked
    without numpy's pickle path; ``error(reason)`` for anything else."""
    return _npy_header(raw, name, error, numeric_only=False)


def memory_budget():
    """Bytes one loaded array may take: half of this process's address-space limit (``RLIMIT_AS``) or of
    the machine's memory, whichever is smaller (a file declaring more is refused before it is read)."""
    import os

    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft)
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) // 2 if limits else 1 << 34
