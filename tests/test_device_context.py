"""``ArrayLibrary.device_context`` (issue 26, item 3): array-api-compat ignores ``device=`` for CuPy, so
``cupy:1`` works only if every array bpx makes is made with that device current. bpx runs a fit, a
forward pass, a prediction and the snapshots inside the library's device context; a stand-in library,
registered here on the CPU, proves it: its namespace refuses to make an array outside its context, and
it counts the entries and exits."""

from __future__ import annotations

import contextlib
import types

import array_api_compat.numpy as np_xp
import numpy as np
import pytest

import bpx
from bpx.backends import LIBRARIES, register
from bpx.backends._backend import probe
from bpx.backends._numpy_library import NumPy

CREATORS = ("asarray", "zeros", "ones", "full", "empty", "arange", "eye", "linspace", "zeros_like", "ones_like",
            "full_like", "empty_like")


class Recording(NumPy):
    """NumPy, with a device context that counts entries and exits and a namespace whose array
    constructors fail outside that context (CuPy would put such an array on device 0)."""

    name = "recording"

    def __init__(self):
        self.depth = self.entries = self.exits = 0
        self.outside = []

    def load(self):
        xp = types.SimpleNamespace(**{k: getattr(np_xp, k) for k in dir(np_xp) if not k.startswith("__")})
        xp.__array_namespace_info__ = np_xp.__array_namespace_info__
        for name in CREATORS:
            setattr(xp, name, self._guarded(name, getattr(np_xp, name)))
        return xp

    def _guarded(self, name, fn):
        def make(*args, **kwargs):
            if not self.depth:
                self.outside.append(name)
                raise AssertionError(f"xp.{name} called outside the device context")
            return fn(*args, **kwargs)

        return make

    @contextlib.contextmanager
    def device_context(self, device):
        self.depth += 1
        self.entries += 1
        try:
            yield
        finally:
            self.depth -= 1
            self.exits += 1

    def from_host(self, xp, host, dtype, device):
        with self.device_context(device):  # as CuPy's entry does
            return xp.asarray(host, dtype=dtype)


@pytest.fixture
def recording():
    library = register(Recording())
    probe.cache_clear()
    try:
        yield library
    finally:
        del LIBRARIES[library.name]
        probe.cache_clear()


def _data(m=30):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 4)), rng.integers(0, 3, m)


@pytest.mark.parametrize("options", [dict(batch_size=8), dict(batch_size=8, dropout=0.2),
                                     dict(batch_size=8, sample_weight=True, validation_split=0.2),
                                     dict(optimizer="lbfgs"), dict(batch_size=8, clip_norm=0.5)],
                         ids=["minibatch", "dropout", "weights-validation", "lbfgs", "clip_norm"])
def test_fit_makes_every_array_inside_the_device_context(recording, options):
    X, y = _data()
    options = dict(options)
    net = bpx.MLP([4, 6, 3], backend="recording", seed=0, dropout=options.pop("dropout", 0.0), dtype="float64")
    if "clip_norm" in options:
        options["optimizer"] = bpx.Adam(clip_norm=options.pop("clip_norm"))
    if options.pop("sample_weight", False):
        options["sample_weight"] = np.linspace(0.5, 1.5, X.shape[0])
    if options.pop("optimizer", None) == "lbfgs":
        options["optimizer"] = bpx.LBFGS()
    entries = recording.entries
    net.fit(X, y, epochs=2, verbose=0, **options)
    assert recording.outside == []
    assert recording.entries > entries and recording.entries == recording.exits and recording.depth == 0


def test_a_checkpointed_and_resumed_fit_snapshots_inside_the_device_context(recording, tmp_path):
    X, y = _data()
    path = tmp_path / "run.ckpt"
    net = bpx.MLP([4, 6, 3], backend="recording", seed=0)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0, checkpoint=path)
    again = bpx.MLP([4, 6, 3], backend="recording", seed=0)
    again.fit(X, y, epochs=3, batch_size=8, verbose=0, checkpoint=path, resume=True)
    assert recording.outside == [] and recording.entries == recording.exits


@pytest.mark.parametrize("call", ["forward", "predict", "predict_proba", "evaluate", "loss", "loss_and_grads",
                                  "train_step"])
def test_the_forward_pass_and_prediction_run_inside_the_device_context(recording, call):
    X, y = _data()
    net = bpx.MLP([4, 6, 3], backend="recording", seed=0)
    before = recording.entries
    args = {"forward": (X,), "predict": (X,), "predict_proba": (X,), "evaluate": (X, y), "loss": (X, y),
            "loss_and_grads": (X, y), "train_step": (X, y, bpx.SGD(0.1))}[call]
    getattr(net, call)(*args)
    assert recording.outside == []
    assert recording.entries > before and recording.entries == recording.exits


def test_the_same_numbers_as_numpy(recording):
    """The stand-in is NumPy: the context changes where arrays are made, never what is computed."""
    X, y = _data()
    nets = [bpx.MLP([4, 6, 3], backend=spec, seed=0) for spec in ("numpy", "recording")]
    for net in nets:
        net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(*(net.params for net in nets)):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))


def test_most_libraries_need_no_context():
    for name in ("numpy", "array_api_strict", "dask"):
        assert isinstance(LIBRARIES[name].device_context(None), contextlib.nullcontext)
