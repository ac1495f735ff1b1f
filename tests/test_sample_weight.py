"""fit(..., sample_weight=w) in the core: each batch's cost is its weighted mean (ω = w / Σw per batch)."""

import numpy as np
import pytest

import bpx


def _data(m=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _net(backend, dtype):
    return bpx.MLP([3, 5, 2], activation="tanh", backend=backend, dtype=dtype, seed=1)


def test_zero_weights_drop_samples_and_ones_change_nothing(backend, dtype, to_input, tol):
    X, y = _data()
    w = np.r_[np.ones(12), np.zeros(12)]
    half, weighted = _net(backend, dtype), _net(backend, dtype)
    h1 = half.fit(to_input(X[:12]), y[:12], epochs=5, optimizer=bpx.SGD(lr=0.5), verbose=0)
    h2 = weighted.fit(to_input(X), y, epochs=5, optimizer=bpx.SGD(lr=0.5), verbose=0, sample_weight=to_input(w))
    for a, b in zip(half.params, weighted.params):
        np.testing.assert_allclose(bpx.to_numpy(b), bpx.to_numpy(a), rtol=1e-4 if dtype == "float32" else 1e-10,
                                   atol=1e-6 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-4)  # one full batch: its weighted mean cost
    plain, ones = _net(backend, dtype), _net(backend, dtype)
    plain.fit(to_input(X), y, epochs=3, batch_size=5, optimizer=bpx.Adam(lr=0.05), verbose=0)
    ones.fit(to_input(X), y, epochs=3, batch_size=5, optimizer=bpx.Adam(lr=0.05), verbose=0,
             sample_weight=to_input(np.ones(24)))
    for a, b in zip(plain.params, ones.params):
        np.testing.assert_allclose(bpx.to_numpy(b), bpx.to_numpy(a), rtol=1e-4 if dtype == "float32" else 1e-9,
                                   atol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("w,match", [(np.ones(5), "vector of 24 weights"), (-np.ones(24), ">= 0"),
                                     (np.zeros(24), "at least one weight > 0"),
                                     (np.r_[np.ones(23), np.nan], "finite")])
def test_bad_sample_weight_is_refused_before_any_work(backend, to_input, w, match):
    X, y = _data()
    net = _net(backend, "float32")
    before = [bpx.to_numpy(p).copy() for p in net.params]
    with pytest.raises(ValueError, match=match):
        net.fit(to_input(X), y, epochs=1, verbose=0, sample_weight=w)
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))
