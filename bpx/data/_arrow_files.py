"""CSV and Parquet files read through Apache Arrow (``pip install 'bpx-backprop[data]'``; the ``[cli]`` extra pulls it in).

:func:`read_csv` parses a CSV file with ``pyarrow.csv`` (multi-threaded C++; the numbers go straight into
columns, without Python strings) and :func:`read_parquet` reads a Parquet file with ``pyarrow.parquet``.
Both return a ``pyarrow.Table``; :mod:`bpx.data._datasets` turns it into a :class:`bpx.data.Dataset`.
Cells are trimmed of surrounding spaces; an empty cell (or ``NA``, ``N/A``, ``null``, ``NULL``) is
missing. A file Arrow cannot parse returns None, and the caller falls back to the careful reader, which
names the row and column of the problem. Host-side data code: nothing here is imported by ``import bpx``.
"""

from __future__ import annotations

import numpy as np

NULL_VALUES = ["", "NA", "N/A", "null", "NULL"]


def available():
    """Whether pyarrow can be imported."""
    try:
        import pyarrow.csv  # noqa: F401
    except ImportError:
        return False
    return True


def read_csv(path, delimiter):
    """The CSV file as a ``pyarrow.Table`` (text columns of numbers converted), or None when Arrow
    cannot parse it (ragged rows, bad quoting, not UTF-8): the careful reader then names the problem."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path, parse_options=pacsv.ParseOptions(delimiter=delimiter),
            read_options=pacsv.ReadOptions(encoding="utf8"),
            convert_options=pacsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    return numbers_from_text(table)


def read_parquet(path):
    """The Parquet file as a ``pyarrow.Table``; a ValueError naming the file if it is not one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
    return numbers_from_text(table)


def numbers_from_text(table):
    """``table`` with its text columns trimmed (an empty cell: missing) and those holding only numbers
    converted to float64 (Arrow types ``" 1.5"`` as text; the careful reader, like ``float``, trims it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for j, (name, col) in enumerate(zip(table.column_names, table.columns)):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            continue
        col = pc.utf8_trim_whitespace(col)
        col = pc.if_else(pc.equal(col, ""), pa.scalar(None, col.type), col)
        try:
            col = col.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        table = table.set_column(j, name, col)
    return table


def numeric_matrix(columns):
    """The Arrow columns (numeric, without nulls) as one C-ordered float64 (m, n) matrix, written a few
    rows at a time (``ROWS_PER_BLOCK``: a block of the matrix stays in the cache), about ten times faster
    than writing whole columns into a row-major matrix. float64 buffers are read in place; peak memory:
    the matrix plus one chunk of one column."""
    import pyarrow as pa

    if not columns:
        return np.empty((0, 0))
    table = pa.Table.from_arrays(list(columns), names=[str(j) for j in range(len(columns))])
    X = np.empty((table.num_rows, table.num_columns))
    start = 0
    for batch in table.to_batches():  # the chunks as parsed: every column's rows start..start+n
        values = [float64_values(a) for a in batch.columns]
        for lo in range(0, batch.num_rows, ROWS_PER_BLOCK):
            hi = min(lo + ROWS_PER_BLOCK, batch.num_rows)
            block = X[start + lo:start + hi]
            for j, v in enumerate(values):
                block[:, j] = v[lo:hi]
        start += batch.num_rows
    return X


ROWS_PER_BLOCK = 1024


def float64_values(array):
    """An Arrow array (numbers or booleans; null → NaN) as float64 NumPy values, read from its buffer
    (a view where it is float64 without nulls); never through pandas, which Arrow's ``to_numpy`` may import."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if array.type != pa.float64():
        array = array.cast(pa.float64())
    if array.null_count:
        array = pc.fill_null(array, float("nan"))
    return np.frombuffer(array.buffers()[1], dtype=np.float64, count=len(array), offset=array.offset * 8)


def column_values(column):
    """A (chunked) Arrow column of numbers as one float64 NumPy vector (null → NaN)."""
    chunks = [float64_values(c) for c in column.chunks]
    return np.concatenate(chunks) if len(chunks) != 1 else chunks[0].copy()


def is_numeric(col):
    import pyarrow as pa

    t = col.type
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
