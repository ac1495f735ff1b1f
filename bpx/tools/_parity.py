"""Cross-backend drift: the same network trained on every backend and dtype, against float64 NumPy.

Every run starts from the same host-drawn weights and sees the same shuffled batches (DESIGN rule 3),
so any difference is the array library's arithmetic: its matmul's summation order, its exp, its
float32 rounding. ``drift_report`` measures it epoch by epoch; ``bpx parity`` prints it.
"""

from __future__ import annotations

from ..backends._backend import available_backends, get_backend, host_rngs, to_numpy
from ..models._mlp import MLP
from ..optimizers._first_order import SGD

REFERENCE = ("numpy", "float64")


def default_specs():
    """Every usable backend, array_api_strict on its second device too. Lazy libraries (dask) are left
    out: their shuffled epochs draw batches by chunks, not by the host permutation the others share
    (their unshuffled parity is tested in tests/test_dask.py).

    Returns
    -------
    list of str
        Backend specs, e.g. ``["numpy", "torch", "array_api_strict", "array_api_strict:device1"]``."""
    specs = [s for s in available_backends() if not get_backend(s).library.lazy]
    if "array_api_strict" in specs:
        specs.insert(specs.index("array_api_strict") + 1, "array_api_strict:device1")
    return specs


def synthetic_data(m, n_features, n_classes, seed):
    """Gaussian blobs drawn on the host: (X float64 (m, n_features), integer labels (m,)).

    Parameters
    ----------
    m : int
        Samples.
    n_features : int
        Features.
    n_classes : int
        Classes (one blob each).
    seed : int
        Seed of the ``numpy.random.Generator``.

    Returns
    -------
    X : numpy.ndarray
        (m, n_features) float64.
    y : numpy.ndarray
        (m,) integer labels 0..n_classes-1."""
    (rng,) = host_rngs(seed, 1)
    centers = rng.standard_normal((n_classes, n_features)) * 0.5  # overlapping: a task still learning
    y = rng.integers(0, n_classes, m)
    return centers[y] + rng.standard_normal((m, n_features)), y


def _trajectory(spec, dtype, layer_sizes, X, y, epochs, batch_size, lr, momentum, seed, shuffle=True):
    net = MLP(layer_sizes, backend=spec, dtype=dtype, seed=seed)
    optimizer = SGD(lr, momentum=momentum)
    losses, params = [], []
    for _ in range(epochs):
        history = net.fit(X, y, epochs=1, batch_size=batch_size, optimizer=optimizer, verbose=0, shuffle=shuffle)
        losses.append(history.loss[-1])
        params.append([to_numpy(p).astype("float64") for p in net.params])
    return losses, params


def drift_report(specs=None, dtypes=("float32", "float64"), layer_sizes=(32, 64, 10), epochs=5, batch_size=32,
                 lr=0.05, momentum=0.9, samples=1024, seed=0):
    """Train one network per (backend, dtype); per epoch, the loss and the max |Δloss|, max |ΔW| and
    max |ΔW| / max |W| against the float64 NumPy run. Returns a JSON-ready dict. Lazy backends (Dask)
    draw their mini-batches by their own documented scheme, so they and their reference run unshuffled.

    Parameters
    ----------
    specs : list of str, optional
        Backend specs (default :func:`default_specs`).
    dtypes : tuple of str, default ("float32", "float64")
        The dtypes to run on each backend that has them.
    layer_sizes : tuple of int, default (32, 64, 10)
        The network.
    epochs, batch_size, lr, momentum, samples, seed
        The training run (SGD with momentum on :func:`synthetic_data`).

    Returns
    -------
    dict
        JSON-ready: ``reference``, ``settings``, ``rows`` (one per backend, dtype and epoch: ``shuffle``
        (whether the run and its reference shuffled), ``loss``, ``reference_loss`` (the float64 NumPy run of
        the same setup), ``max_abs_dloss``, ``max_abs_dW``, ``max_rel_dW``) and ``skipped`` (with the
        reasons)."""
    specs = default_specs() if specs is None else list(specs)
    for spec in specs:
        get_backend(spec)  # an unknown or unusable backend fails here, before any training
    X, y = synthetic_data(samples, layer_sizes[0], layer_sizes[-1], seed)
    settings = dict(layer_sizes=list(layer_sizes), X=X, y=y, epochs=epochs, batch_size=batch_size, lr=lr,
                    momentum=momentum, seed=seed)
    references = {}
    rows, skipped = [], []
    for spec in specs:
        backend = get_backend(spec)
        for dtype in dtypes:
            if not backend.has_dtype(dtype):
                skipped.append({"backend": spec, "dtype": dtype, "reason": f"{spec} has no {dtype}"})
                continue
            shuffle = not backend.library.lazy
            if shuffle not in references:
                references[shuffle] = _trajectory(*REFERENCE, **settings, shuffle=shuffle)
            ref_losses, ref_params = references[shuffle]
            losses, params = _trajectory(spec, dtype, **settings, shuffle=shuffle)
            for epoch, (loss, ps, ref_loss, ref_ps) in enumerate(zip(losses, params, ref_losses, ref_params), 1):
                dW = max(float(abs(p - r).max()) for p, r in zip(ps, ref_ps))
                scale = max(float(abs(r).max()) for r in ref_ps)
                rows.append({"backend": spec, "dtype": dtype, "epoch": epoch, "shuffle": shuffle, "loss": loss,
                             "reference_loss": ref_loss, "max_abs_dloss": abs(loss - ref_loss), "max_abs_dW": dW,
                             "max_rel_dW": dW / scale})
    return {"reference": "numpy float64", "settings": {k: v for k, v in settings.items() if k not in ("X", "y")}
            | {"samples": samples, "optimizer": f"SGD(lr={lr}, momentum={momentum})"}, "rows": rows,
            "skipped": skipped}


def format_table(report):
    """A markdown table of the report, one row per backend, dtype and epoch.

    Parameters
    ----------
    report : dict
        What :func:`drift_report` returns.

    Returns
    -------
    str
        The table, one line per row."""
    settings = report["settings"]
    lines = []
    for shuffle in (True, False):  # one table per setup, each against the reference run of that same setup
        rows = [r for r in report["rows"] if r.get("shuffle", True) is shuffle]
        if not rows:
            continue
        setup = ("shuffled batches, the host permutation every backend shares" if shuffle else
                 "unshuffled batches: a lazy backend (Dask) draws its shuffled batches by chunks, so it and its "
                 "reference run in order")
        lines += [*([""] if lines else []),
                  f"Drift against {report['reference']} with the same setup ({settings['optimizer']}, "
                  f"layers {settings['layer_sizes']}, batch {settings['batch_size']}, {setup}):", "",
                  "| backend | dtype | epoch | loss | reference loss | max abs Δloss | max abs ΔW | max rel ΔW |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['backend']} | {r['dtype']} | {r['epoch']} | {r['loss']:.6f} | {r['reference_loss']:.6f} | "
                  f"{r['max_abs_dloss']:.2e} | {r['max_abs_dW']:.2e} | {r['max_rel_dW']:.2e} |" for r in rows]
    lines += [f"(skipped {s['backend']} {s['dtype']}: {s['reason']})" for s in report["skipped"]]
    return "\n".join(lines)
