"""Regression metrics on the host (NumPy), reported by ``bpx train`` and ``bpx evaluate``.

For targets ``y`` and predictions ``p`` of shape (m,) or (m, k), in the targets' own units:

========  ==========================================================================================
``r2``    coefficient of determination 1 − Σ(y − p)² / Σ(y − ȳ)², per target column, averaged over
          the columns (scikit-learn's ``r2_score`` default); 1 is perfect, 0 is predicting the mean
``rmse``  root mean squared error over all entries, √(mean (y − p)²)
``mae``   mean absolute error over all entries, mean |y − p|
========  ==========================================================================================

A constant target column has no variance: its R² is 1.0 when predicted exactly, else 0.0
(scikit-learn's convention).
"""

from __future__ import annotations

import numpy as np


def regression_metrics(y, p):
    """``{"r2", "rmse", "mae"}`` as Python floats (see the module docstring).

    Parameters
    ----------
    y : array_like
        Targets, (m,) or (m, k), on the host.
    p : array_like
        Predictions of the same shape.

    Returns
    -------
    dict
        ``{"r2": float, "rmse": float, "mae": float}``.

    Raises
    ------
    ValueError
        If the shapes differ or there are no samples."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    if p.ndim == 1:
        p = p.reshape(-1, 1)
    if y.shape != p.shape:
        raise ValueError(f"targets of shape {y.shape} and predictions of shape {p.shape} differ")
    if y.shape[0] == 0:
        raise ValueError("no samples: regression metrics need at least one")
    err = y - p
    ss_res = np.sum(err * err, axis=0)
    ss_tot = np.sum((y - y.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.where(ss_res == 0, 1.0, 0.0))
    return {"r2": float(np.mean(r2)), "rmse": float(np.sqrt(np.mean(err * err))), "mae": float(np.mean(np.abs(err)))}
