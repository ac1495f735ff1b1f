"""The rows ``bpx predict`` writes for some samples, from the model's host output on them (the same on
the host path, :mod:`bpx.cli.predict`, and block by block on Dask, :mod:`bpx.cli.predict_dask`)."""

from __future__ import annotations

import csv


def wants_proba(net, proba):
    """Whether the rows come from ``predict_proba`` (``--proba``, or class names) or from ``predict``."""
    return proba or (net.is_classifier and net.classes is not None)


def table(net, proba, output):
    """``(header, values)``: the rows written for some samples, from the model's host output on them
    (``predict_proba``'s where :func:`wants_proba`, else ``predict``'s)."""
    import numpy as np

    if proba:
        values = np.asarray(output).astype(np.float64)
        names = list(net.classes) if net.classes else [f"p{j}" for j in range(values.shape[1])]
        if values.shape[1] == 1:  # one sigmoid unit: P(class 1); write both columns
            values = np.concatenate([1.0 - values, values], axis=1)
            names = names if len(names) == 2 else ["p0", "p1"]
        return names, values
    if net.is_classifier and net.classes is not None:
        index = (output[:, 0] >= 0.5).astype(np.int64) if net.n_outputs == 1 else output.argmax(axis=1)
        labels = [net.classes[int(i)] for i in index]
        try:  # integer class names as numbers (decided by all the classes, so every block alike)
            numbers = [int(c) for c in net.classes]
            values = np.asarray([numbers[int(i)] for i in index], dtype=np.int64)
        except ValueError:
            values = np.asarray(labels, dtype=str)
        return ["prediction"], values
    values = np.asarray(output)
    values = values.reshape(len(values), -1)
    return (["prediction"] if values.shape[1] == 1 else [f"y{j + 1}" for j in range(values.shape[1])]), values


def write_rows(f, header, values):
    """CSV rows of ``values`` (after the ``header`` row, unless it is None)."""
    writer = csv.writer(f, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    rows = values.reshape(len(values), -1)
    for row in rows:
        writer.writerow([_cell(v) for v in row])


def _cell(v):
    if isinstance(v, (float,)) or getattr(v, "dtype", None) is not None and v.dtype.kind == "f":
        return f"{float(v):.8g}"
    return str(v)
