"""One matmul-precision rule on every backend (issue 26, item 1): float32 products at full precision
unless the user opts in with ``BPX_TF32=1``. JAX runs float32 matmuls in TF32 on recent GPUs by
default; bpx traces its compiled step/epoch and runs its eager forward pass under the highest
precision, which the lowered program shows (``precision = [HIGHEST, HIGHEST]``) on any device, the
CPU included."""

from __future__ import annotations

import re

import numpy as np
import pytest

import bpx
from bpx.tools._info import collect, format_text


@pytest.fixture
def jax_backend():
    """The session's backend when it is JAX (jax:gpu on a GPU), else JAX's default device."""
    session = bpx.get_backend()
    if session.name == "jax":
        return session
    try:
        return bpx.get_backend("jax")
    except ValueError as exc:
        pytest.skip(f"jax is not usable here: {exc}")


def _precisions(text):
    """The precision of every dot_general of a lowered program."""
    found = re.findall(r"dot_general[^\n]*?precision = \[(\w+), (\w+)\]", text)
    assert len(found) == text.count("dot_general"), "a dot_general without a precision"
    return {p for pair in found for p in pair}


@pytest.fixture
def lowered(monkeypatch):
    """Every function bpx compiles with jax.jit, lowered (outside any precision context) with the
    shapes it was first called with: ``lowered()`` -> the programs' text."""
    import jax

    calls, jit = [], jax.jit

    def recording(fn, **kwargs):
        compiled = jit(fn, **kwargs)
        static = kwargs.get("static_argnums", ())

        def call(*args):
            if not any(c[0] is compiled for c in calls):
                shapes = [a if i in static else jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), a)
                          for i, a in enumerate(args)]
                calls.append((compiled, shapes))
            return compiled(*args)

        return call

    recording.original = jit
    monkeypatch.setattr(jax, "jit", recording)
    return lambda: [compiled.lower(*shapes).as_text() for compiled, shapes in calls]


def _data(m=40):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 6)), rng.integers(0, 3, m)


@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_the_compiled_epoch_and_step_are_lowered_at_the_highest_precision(jax_backend, lowered, dropout):
    X, y = _data()
    net = bpx.MLP([6, 16, 3], backend=jax_backend, seed=0, dropout=dropout)
    net.fit(X, y, epochs=1, batch_size=16, verbose=0)
    net.train_step(X[:8], y[:8], bpx.SGD(0.1))
    programs = lowered()
    assert len(programs) >= 2 - (dropout > 0)  # the epoch, and the step (a dropout step runs eagerly)
    for text in programs:
        assert _precisions(text) == {"HIGHEST"}


def test_the_lbfgs_objective_is_lowered_at_the_highest_precision(jax_backend, lowered):
    X, y = _data()
    net = bpx.MLP([6, 16, 3], backend=jax_backend, seed=0)
    net.fit(X, y, epochs=2, optimizer=bpx.LBFGS(), verbose=0)
    programs = lowered()
    assert programs and all(_precisions(text) == {"HIGHEST"} for text in programs)


def _forward_precisions(net, X, call, monkeypatch):
    """The precision the eager forward pass of ``call(net, X)`` runs under: its math (the functional core's
    ``forward``, wherever the model or the core calls it), lowered where it runs."""
    import jax

    import bpx.models._mlp as mlp
    import bpx.nn._functional as functional

    seen, forward, jit = [], functional.forward, getattr(jax.jit, "original", jax.jit)

    def observed(net, params, A, masks=None):
        seen.append(jit(lambda a: forward(net, params, a)[0]).lower(A).as_text())
        return forward(net, params, A, masks)

    monkeypatch.setattr(functional, "forward", observed)
    monkeypatch.setattr(mlp, "forward_pass", observed)
    call(net, X)
    assert seen
    return set().union(*(_precisions(text) for text in seen))


@pytest.mark.parametrize("call", ["forward", "predict", "evaluate", "loss_and_grads"])
def test_the_forward_pass_runs_at_the_highest_precision(jax_backend, call, monkeypatch):
    X, y = _data()
    net = bpx.MLP([6, 16, 3], backend=jax_backend, seed=0)
    run = {"forward": lambda n, X: n.forward(X), "predict": lambda n, X: n.predict(X),
           "evaluate": lambda n, X: n.evaluate(X, y), "loss_and_grads": lambda n, X: n.loss_and_grads(X, y)}[call]
    assert _forward_precisions(net, X, run, monkeypatch) == {"HIGHEST"}


def test_tf32_only_when_the_user_opts_in(jax_backend, lowered, monkeypatch):
    X, y = _data()
    monkeypatch.setenv("BPX_TF32", "1")
    net = bpx.MLP([6, 16, 3], backend=jax_backend, seed=1)
    net.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert all(_precisions(text) == {"HIGH"} for text in lowered())  # JAX's name for TF32
    assert _forward_precisions(net, X, lambda n, X: n.forward(X), monkeypatch) == {"HIGH"}
    info = collect()["tf32"]
    assert info["bpx matmul precision"].startswith("TF32 allowed (BPX_TF32=1)")
    assert info["jax matmul precision inside bpx"] == "tensorfloat32"


def test_bpx_info_reports_the_rule(monkeypatch):
    monkeypatch.delenv("BPX_TF32", raising=False)
    info = collect()
    assert info["tf32"]["bpx matmul precision"].startswith("highest")
    assert "jax matmul precision inside bpx" not in info["tf32"] or \
        info["tf32"]["jax matmul precision inside bpx"] == "highest"
    assert "BPX_TF32=1 opts in on every backend" in format_text(info)


@pytest.mark.parametrize("opt_in,outside", [(False, True), (True, False), (False, False)])
def test_torch_cuda_uses_tf32_exactly_as_the_switch_says(opt_in, outside, monkeypatch):
    """Inside bpx's context on a CUDA device, torch's TF32 flag is the switch, whatever it is outside;
    it is restored after. (Setting the flag needs no GPU: only the device's type is read.)"""
    torch = pytest.importorskip("torch")
    from bpx.backends import LIBRARIES

    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32
    matmul.allow_tf32 = outside
    if opt_in:
        monkeypatch.setenv("BPX_TF32", "1")
    else:
        monkeypatch.delenv("BPX_TF32", raising=False)
    try:
        with LIBRARIES["torch"].device_context(torch.device("cuda", 0)):
            assert matmul.allow_tf32 is opt_in
        assert matmul.allow_tf32 is outside
        with LIBRARIES["torch"].device_context(torch.device("cpu")):  # the CPU has no TF32: untouched
            assert matmul.allow_tf32 is outside
    finally:
        matmul.allow_tf32 = before
