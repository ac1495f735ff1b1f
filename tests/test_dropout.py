"""Dropout: inverted dropout on the hidden layers while training, masks from the host RNG stream (the
same on every backend), the same mask in BP2, off when predicting, gradchecked, saved with the model."""

import numpy as np
import pytest

import bpx
from bpx.backends._backend import host_rngs
from bpx.nn._layers import Dense


def data(m=12, n_in=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n_in)), rng.integers(0, k, m)


def test_one_step_by_hand(backend, float64, to_input):
    """Z1 = X W1 + b1, A1 = relu(Z1), D1 = A1 ⊙ M/(1−p) with M = [u >= p] from the network's third host
    stream; the softmax layer sees D1; BP2 multiplies by the same M/(1−p)."""
    X, y = data()
    p, lr, seed = 0.4, 0.5, 7
    net = bpx.MLP([4, 5, 3], dropout=p, backend=backend, dtype="float64", seed=seed)
    W1, b1, W2, b2 = (bpx.to_numpy(q).copy() for q in net.params)  # .copy(): independent of the to_numpy contract
    net.train_step(to_input(X), to_input(y), bpx.SGD(lr=lr))
    mask = (host_rngs(seed, 3)[2].random((12, 5)) >= p) / (1 - p)
    Y = np.eye(3)[y]
    Z1 = X @ W1 + b1
    D1 = np.maximum(Z1, 0) * mask
    Z2 = D1 @ W2 + b2
    A2 = np.exp(Z2 - Z2.max(1, keepdims=True))
    A2 /= A2.sum(1, keepdims=True)
    dZ2 = (A2 - Y) / 12
    dZ1 = (dZ2 @ W2.T) * mask * (Z1 > 0)
    expected = [W1 - lr * X.T @ dZ1, b1 - lr * dZ1.sum(0), W2 - lr * D1.T @ dZ2, b2 - lr * dZ2.sum(0)]
    for ours, want in zip(net.params, expected):
        np.testing.assert_allclose(bpx.to_numpy(ours), want, rtol=1e-12, atol=1e-14)
    assert 0.2 < float(np.mean(mask == 0)) < 0.6  # about p of the units were dropped


def test_the_same_seed_gives_the_same_trajectory_on_every_backend(backend, dtype, to_input, tol):
    X, y = data(m=40)

    def run(spec, convert):
        net = bpx.MLP([4, 16, 8, 3], activation="tanh", dropout=[0.5, 0.2], backend=spec, dtype=dtype, seed=3)
        h = net.fit(convert(X), convert(y), epochs=4, batch_size=8, optimizer=bpx.SGD(lr=0.1, momentum=0.9),
                    verbose=0)
        return h.loss, [bpx.to_numpy(q) for q in net.params]

    loss, params = run(backend, to_input)
    ref_loss, ref_params = run("numpy", lambda a: np.asarray(a, dtype=dtype))
    np.testing.assert_allclose(loss, ref_loss, **tol(dtype))
    for ours, ref in zip(params, ref_params):
        np.testing.assert_allclose(ours, ref, rtol=tol(dtype)["rtol"], atol=1e-5 if dtype == "float32" else 1e-12)
    # and differs from training without dropout (the masks are used)
    plain = bpx.MLP([4, 16, 8, 3], activation="tanh", backend=backend, dtype=dtype, seed=3)
    h = plain.fit(to_input(X), to_input(y), epochs=4, batch_size=8, optimizer=bpx.SGD(lr=0.1, momentum=0.9), verbose=0)
    assert abs(h.loss[-1] - loss[-1]) > 1e-4


def test_dropout_is_off_when_predicting(backend, dtype, to_input):
    X, y = data()
    net = bpx.MLP([4, 32, 3], dropout=0.5, backend=backend, dtype=dtype, seed=1)
    net.fit(to_input(X), to_input(y), epochs=3, optimizer=bpx.Adam(), verbose=0)
    twin = bpx.MLP([4, 32, 3], backend=backend, dtype=dtype, seed=1)
    twin.set_params(net.params)
    for method in ("forward", "predict", "predict_proba"):
        first = bpx.to_numpy(getattr(net, method)(to_input(X)))
        np.testing.assert_array_equal(first, bpx.to_numpy(getattr(net, method)(to_input(X))))
        np.testing.assert_array_equal(first, bpx.to_numpy(getattr(twin, method)(to_input(X))))
    assert net.evaluate(to_input(X), to_input(y)) == twin.evaluate(to_input(X), to_input(y))
    cost, grads = net.loss_and_grads(to_input(X), to_input(y))
    cost2, grads2 = twin.loss_and_grads(to_input(X), to_input(y))
    assert cost == cost2


def test_zero_dropout_is_no_dropout(backend, dtype, to_input):
    X, y = data()
    nets = [bpx.MLP([4, 6, 6, 3], dropout=d, backend=backend, dtype=dtype, seed=2) for d in (0.0, [0.0, 0.0], None)
            if d is not None] + [bpx.MLP([4, 6, 6, 3], backend=backend, dtype=dtype, seed=2)]
    results = []
    for net in nets:
        net.fit(to_input(X), to_input(y), epochs=2, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0)
        results.append([bpx.to_numpy(q) for q in net.params])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_gradcheck_holds_one_mask_fixed(backend, float64, to_input, monkeypatch):
    X, y = data(m=9)
    net = bpx.MLP([4, 6, 5, 3], activation="sigmoid", dropout=[0.3, 0.5], backend=backend, dtype="float64", seed=4)
    errors = bpx.gradcheck(net, to_input(X), to_input(y))
    assert set(errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert max(errors.values()) <= 1e-7, errors
    # a BP2 that forgets the mask is caught
    original = Dense.delta_below
    monkeypatch.setattr(Dense, "delta_below", lambda self, dZ, W, below, Z, A, mask=None: original(self, dZ, W, below, Z, A))
    assert max(bpx.gradcheck(net, to_input(X), to_input(y)).values()) > 1e-2


def test_saved_and_copied_with_the_model(backend, tmp_path):
    net = bpx.MLP([4, 6, 5, 3], dropout=[0.25, 0.0], backend=backend, seed=1)
    assert net.dropout == [0.25, 0.0] and "dropout=[0.25, 0.0]" in repr(net)
    again = bpx.load(bpx.save(net, tmp_path / "d.npz"), backend=backend)
    assert again.dropout == [0.25, 0.0]
    assert net.copy().dropout == [0.25, 0.0]
    assert bpx.MLP([4, 6, 5, 3], dropout=0.1, backend=backend).dropout == [0.1, 0.1]


@pytest.mark.parametrize("dropout,error,match", [
    (1.0, ValueError, r"dropout must be .*\[0.0, 1.0\)"),
    (-0.1, ValueError, "dropout"),
    ([0.1], ValueError, r"one per hidden layer \(2\), got 1"),
    ([0.1, 1.5], ValueError, r"dropout\[1\]"),
    ("0.5", TypeError, "dropout must be a probability"),
    (True, TypeError, "dropout"),
])
def test_bad_dropout_is_refused(backend, dropout, error, match):
    with pytest.raises(error, match=match):
        bpx.MLP([4, 6, 5, 3], dropout=dropout, backend=backend)


def test_dropout_needs_a_hidden_layer(backend):
    with pytest.raises(ValueError, match="needs a hidden layer"):
        bpx.MLP([4, 3], dropout=0.5, backend=backend)
    assert bpx.MLP([4, 3], dropout=0.0, backend=backend).dropout == []


@pytest.mark.parametrize("width", [1, 7, 8, 13, 64])
def test_masks_travel_as_packed_bits_and_unpack_to_the_host_draw(backend, width, monkeypatch):
    """The masks are the host draw ``u >= p`` (unchanged), and what crosses to the device is one bit per
    unit: ⌈n/8⌉ bytes per row (issue 26, item 5; benchmarks/dropout_transfer.py measures it)."""
    if backend.library.lazy:
        pytest.skip("dask draws its masks as host chunks of its row chunks (tests/test_dask.py)")
    p, m, seed = 0.3, 10, 3
    net = bpx.MLP([4, width, 2], dropout=p, backend=backend, dtype="float32", seed=seed)
    moved = []
    transfer = backend.library.transfer
    monkeypatch.setattr(backend.library, "transfer", lambda xp, host, device: moved.append(host) or
                        transfer(xp, host, device))
    masks = net.dropout_masks(m)
    assert [h.shape for h in moved] == [(m, -(-width // 8))] and moved[0].dtype == np.uint8
    want = (host_rngs(seed, 3)[2].random((m, width)) >= p) / (1 - p)
    np.testing.assert_array_equal(bpx.to_numpy(masks[0]), want.astype(np.float32))
    assert masks[1] is None
