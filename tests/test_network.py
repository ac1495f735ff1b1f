"""The public contract of bpx.MLP: shapes, data handling, training, prediction."""

import numpy as np
import pytest

import bpx


def blobs(m=60, n_in=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_in)) * 3
    y = rng.integers(0, n_classes, m)
    return centers[y] + rng.standard_normal((m, n_in)), y


def test_params_layout(backend, dtype):
    net = bpx.MLP([5, 4, 3], backend=backend, dtype=dtype)
    shapes = [tuple(p.shape) for p in net.params]
    assert shapes == [(5, 4), (4,), (4, 3), (3,)]
    assert net.n_params == 5 * 4 + 4 + 4 * 3 + 3
    assert all(backend.owns(p) for p in net.params)
    assert not np.any(bpx.to_numpy(net.params[1]))


def test_same_seed_same_network_other_seed_other_network(backend, dtype):
    a, b, c = (bpx.MLP([5, 4, 3], backend=backend, dtype=dtype, seed=s) for s in (7, 7, 8))
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))
    assert not np.array_equal(bpx.to_numpy(a.params[0]), bpx.to_numpy(c.params[0]))


@pytest.mark.parametrize("init,std", [("lecun", lambda i, o: (1 / i) ** 0.5), ("he", lambda i, o: (2 / i) ** 0.5),
                                      ("glorot", lambda i, o: (2 / (i + o)) ** 0.5)])
def test_initializer_scales(backend, init, std):
    net = bpx.MLP([400, 300, 2], backend=backend, init=init, seed=0)
    W = bpx.to_numpy(net.params[0])
    assert W.std() == pytest.approx(std(400, 300), rel=0.02)


def test_forward_predict_and_proba(backend, dtype, to_input):
    X, y = blobs()
    net = bpx.MLP([4, 8, 3], backend=backend, dtype=dtype)
    A = net.forward(to_input(X))
    assert tuple(A.shape) == (60, 3)
    np.testing.assert_allclose(bpx.to_numpy(net.predict_proba(to_input(X))).sum(axis=1), 1.0, rtol=1e-5)
    labels = bpx.to_numpy(net.predict(to_input(X)))
    np.testing.assert_array_equal(labels, bpx.to_numpy(A).argmax(axis=1))
    reg = bpx.MLP([4, 3, 2], output="identity", loss="mse", backend=backend, dtype=dtype)
    np.testing.assert_array_equal(bpx.to_numpy(reg.predict(to_input(X))), bpx.to_numpy(reg.forward(to_input(X))))
    with pytest.raises(ValueError, match="predict_proba"):
        reg.predict_proba(to_input(X))


def test_sigmoid_output_labels(backend, dtype, to_input):
    net = bpx.MLP([4, 1], activation="relu", output="sigmoid", loss="binary_cross_entropy", backend=backend, dtype=dtype)
    X, _ = blobs()
    labels = bpx.to_numpy(net.predict(to_input(X)))
    assert labels.shape == (60,)
    np.testing.assert_array_equal(labels, (bpx.to_numpy(net.forward(to_input(X)))[:, 0] >= 0.5).astype(int))


def test_fit_learns_and_reports_history(backend, dtype, to_input):
    X, y = blobs(m=120)
    net = bpx.MLP([4, 16, 3], backend=backend, dtype=dtype, seed=1)
    history = net.fit(to_input(X), to_input(y), epochs=30, batch_size=16, optimizer=bpx.SGD(0.1, momentum=0.9),
                      validation_data=(to_input(X[:30]), to_input(y[:30])), verbose=0)
    assert len(history) == 30 and len(history.val_loss) == 30 and len(history.val_accuracy) == 30
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.accuracy[-1] >= 0.9
    assert net.evaluate(to_input(X), to_input(y))["accuracy"] >= 0.9


def test_integer_labels_and_one_hot_give_the_same_step(backend, dtype, to_input):
    X, y = blobs()
    a = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype)
    b = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype)
    la = a.train_step(to_input(X), to_input(y), bpx.SGD(0.1))
    lb = b.train_step(to_input(X), to_input(np.eye(3)[y]), bpx.SGD(0.1))
    assert la == lb
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))


def test_full_batch_epoch_is_one_train_step(backend, dtype, to_input):
    X, y = blobs()
    a = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype)
    b = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype)
    history = a.fit(to_input(X), to_input(y), epochs=1, optimizer=bpx.SGD(0.1), verbose=0)
    loss = b.train_step(to_input(X), to_input(y), bpx.SGD(0.1))
    assert history.loss[0] == pytest.approx(loss, rel=1e-6)
    for p, q in zip(a.params, b.params):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))


def test_fitting_twice_from_the_same_seed_is_identical(backend, dtype, to_input):
    X, y = blobs()
    nets = [bpx.MLP([4, 6, 3], backend=backend, dtype=dtype, seed=5) for _ in range(2)]
    for net in nets:
        net.fit(to_input(X), to_input(y), epochs=3, batch_size=7, optimizer=bpx.Adam(0.01), verbose=0)
    for p, q in zip(*(n.params for n in nets)):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))


def test_inputs_are_never_written(backend, dtype):
    """Host arrays (read-only on numpy, shared memory on torch) and parameter lists stay as given."""
    X, y = blobs()
    Y = np.eye(3)[y]
    params = [np.random.default_rng(0).standard_normal(s) for s in [(4, 5), (5,), (5, 3), (3,)]]
    copies = [a.copy() for a in (X, y, Y, *params)]
    net = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype)
    net.set_params(params)
    net.fit(X, y, epochs=2, batch_size=8, optimizer=bpx.SGD(0.1, momentum=0.5), verbose=0)
    net.train_step(X, Y, bpx.Adam())
    net.loss_and_grads(X, Y)
    net.predict(X)
    for original, now in zip(copies, (X, y, Y, *params)):
        np.testing.assert_array_equal(original, now)


def test_set_params_round_trip_and_mismatch(backend, dtype, to_input):
    net = bpx.MLP([3, 2], output="sigmoid", loss="binary_cross_entropy", backend=backend, dtype=dtype)
    new = [np.full((3, 2), 0.5), np.array([1.0, -1.0])]
    net.set_params([to_input(a) for a in new])
    for p, a in zip(net.params, new):
        np.testing.assert_array_equal(bpx.to_numpy(p), a.astype(dtype))
    before = [bpx.to_numpy(p).copy() for p in net.params]
    for bad, match in [([np.zeros((2, 3)), np.zeros(2)], "shape"), ([np.zeros((3, 2))], "2 arrays"),
                       ([np.zeros((3, 2)), np.array([np.nan, 0])], "NaN")]:
        with pytest.raises(ValueError, match=match):
            net.set_params(bad)
    for p, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(p), b)


def test_copy_to_another_dtype(backend, float64):
    net = bpx.MLP([3, 4, 2], backend=backend, dtype="float32", seed=3)
    twin = net.copy(dtype="float64")
    assert twin.dtype == "float64" and net.dtype == "float32"
    for p, q in zip(net.params, twin.params):
        np.testing.assert_array_equal(bpx.to_numpy(p).astype(np.float64), bpx.to_numpy(q))


def test_early_stopping_restores_the_best_weights(backend, to_input):
    X, y = blobs(m=80)
    net = bpx.MLP([4, 32, 3], backend=backend, seed=0)
    history = net.fit(to_input(X), to_input(y), epochs=200, optimizer=bpx.SGD(0.5, momentum=0.9),
                      validation_split=0.25, early_stopping=3, verbose=0)
    assert history.stopped_early and len(history) < 200
    best = history.best_epoch
    assert history.val_loss[best - 1] == min(history.val_loss)


def test_divergence_is_caught_and_the_last_finite_parameters_kept(backend, to_input):
    X, y = blobs()
    net = bpx.MLP([4, 8, 3], activation="identity", output="softmax", backend=backend, seed=0)
    net.fit(to_input(X), to_input(y), epochs=1, optimizer=bpx.SGD(0.01), verbose=0)
    with pytest.raises(bpx.TrainingDiverged, match=r"epoch \d+, batch \d+ of"):
        net.fit(to_input(X * 1e30), to_input(y), epochs=5, batch_size=20, optimizer=bpx.SGD(1e30), verbose=0)
    assert all(np.all(np.isfinite(bpx.to_numpy(p))) for p in net.params)


def test_verbose_2_prints_one_line_per_epoch(backend, capsys):
    X, y = blobs()
    bpx.MLP([4, 3], backend=backend).fit(X, y, epochs=3, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("epoch 3/3 loss=")


def test_a_layer_says_its_widths_activation_and_bias():
    from bpx.nn import Dense

    assert repr(Dense(3, 4, "relu")) == "Dense(3 -> 4, relu)"
    assert repr(Dense(4, 2, "softmax", bias=False)) == "Dense(4 -> 2, softmax, bias=False)"
