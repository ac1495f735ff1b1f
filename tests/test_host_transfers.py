"""No tensor made from a Python scalar in a training step on torch (issue 26, item 4).

array-api-compat's torch wrapper turns the scalar of ``xp.maximum(Z, 0.0)`` into ``torch.asarray(0.0,
device=...)``: on CUDA a blocking host-to-device copy in every ReLU, sigmoid and fused cost, every step.
These tests wrap torch's tensor constructors and count what a training step makes after the first step
(which may create the optimizer's state): none. They run on the session's backend when it is torch
(torch:cuda on a GPU), else on torch's CPU.
"""

from __future__ import annotations

import collections
import contextlib
import functools

import numpy as np
import pytest

import bpx

torch = pytest.importorskip("torch")

CONSTRUCTORS = ("tensor", "asarray", "as_tensor", "from_numpy", "full", "scalar_tensor", "zeros", "ones", "empty",
                "arange", "linspace")
# (hidden activation, output, loss, extra MLP options): every activation and loss that bounded by a scalar
NETWORKS = [
    ("relu", "softmax", "cross_entropy", {}),
    ("sigmoid", "sigmoid", "binary_cross_entropy", {}),
    ("elu", "softmax", "cross_entropy", {}),
    ("softplus", "identity", "mse", {}),
    ("silu", "softmax", "cross_entropy", {}),
    ("gelu", "sigmoid", "cross_entropy", {}),
    ("tanh", "exp", "poisson", {}),
    ("relu", "softmax", "mse", {}),
    ("relu", "softmax", "cross_entropy", {"precision": "bf16", "dtype": "float32"}),
    ("relu", "softmax", "cross_entropy", {"precision": "fp16", "dtype": "float32"}),
]


@pytest.fixture(scope="module")
def torch_backend():
    spec = bpx.get_backend().spec if bpx.get_backend().name == "torch" else "torch"
    return bpx.get_backend(spec)


@contextlib.contextmanager
def counting():
    """Count the calls of torch's tensor constructors inside the context: ``with counting() as made``."""
    made = collections.Counter()
    originals = {name: getattr(torch, name) for name in CONSTRUCTORS}

    def wrap(name, fn):
        @functools.wraps(fn)
        def counted(*args, **kwargs):
            made[name] += 1
            return fn(*args, **kwargs)

        return counted

    for name, fn in originals.items():
        setattr(torch, name, wrap(name, fn))
    try:
        yield made
    finally:
        for name, fn in originals.items():
            setattr(torch, name, fn)


def _problem(output, loss, m=48, n=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    if loss == "poisson":
        Y = rng.poisson(1.0, (m, k)).astype(float)
    elif output == "sigmoid":
        Y = (rng.random((m, k)) > 0.5).astype(float)
    elif output == "softmax":
        Y = rng.integers(0, k, m)
    else:
        Y = rng.standard_normal((m, k))
    return X, Y


@pytest.mark.parametrize("activation,output,loss,options", NETWORKS,
                         ids=[f"{a}-{o}-{l}{'-' + o2['precision'] if o2 else ''}" for a, o, l, o2 in NETWORKS])
def test_a_training_step_makes_no_tensor_after_the_first(torch_backend, activation, output, loss, options):
    net = bpx.MLP([5, 8, 3], activation=activation, output=output, loss=loss, backend=torch_backend, seed=0,
                  **options)
    X, Y = _problem(output, loss)
    if output == "softmax":  # one-hot rows: labels are turned into rows per call, before the step
        Y = np.eye(3)[Y]
    X, Y = torch_backend.asarray(X, net.dtype), torch_backend.asarray(Y, net.dtype)
    optimizer = bpx.Adam(1e-3)
    net.train_step(X, Y, optimizer)  # the first step makes the optimizer's state
    with counting() as made:
        for _ in range(3):
            net.train_step(X, Y, optimizer)
    assert dict(made) == {}, f"tensors made per 3 steps: {dict(made)}"


@pytest.mark.parametrize("options", [{}, {"sample_weight": True}, {"clip_norm": 1.0},
                                     {"sample_weight": True, "checkpoint": True}],
                         ids=["plain", "sample_weight", "clip_norm", "checkpoint"])
def test_a_fit_makes_no_tensor_per_step(torch_backend, options, tmp_path):
    """Tensors made by a fit of 8 batches and of 4: the same count (what is made, is made per epoch; a
    checkpoint's data fingerprint, once per fit)."""
    X, Y = _problem("softmax", "cross_entropy", m=64)
    w = np.random.default_rng(1).random(64) + 0.5 if options.get("sample_weight") else None

    def made_by(batch):
        net = bpx.MLP([5, 8, 3], backend=torch_backend, seed=0)
        Xd, yd = torch_backend.asarray(X, net.dtype), torch_backend.asarray(Y)
        wd = None if w is None else torch_backend.asarray(w, net.dtype)
        optimizer = bpx.Adam(1e-3, clip_norm=options.get("clip_norm"))
        checkpoint = {"checkpoint": tmp_path / f"run{batch}.ckpt"} if options.get("checkpoint") else {}
        net.fit(Xd, yd, epochs=1, batch_size=batch, optimizer=optimizer, verbose=0, sample_weight=wd, **checkpoint)
        with counting() as made:
            net.fit(Xd, yd, epochs=1, batch_size=batch, verbose=0, sample_weight=wd, **checkpoint)
        return sum(made.values())

    assert made_by(8) == made_by(16)
