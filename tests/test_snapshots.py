"""What bpx returns stays put (docs/development/architecture.md, "What bpx returns stays put"): no
array it hands out changes when training continues, on any backend. ``bpx.to_numpy`` is documented as a copy
("copy with bpx.to_numpy to keep a snapshot"): a weight snapshot taken after each step must keep that step's
values, as must outputs, gradients and histories. (Only ``net.params`` / ``net.weights`` / ``net.biases``
themselves are live, and say so.)"""

import copy

import numpy as np
import pytest

import bpx


def data(m=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, 5)), rng.integers(0, 3, m)


CASES = [
    pytest.param(dict(), "sgd", id="sgd"),
    pytest.param(dict(), "momentum", id="momentum"),
    pytest.param(dict(), "adam", id="adam"),
    pytest.param(dict(bias=False, dropout=0.3), "sgd", id="nobias-dropout-sgd"),
]


def make_optimizer(kind):
    return {"sgd": bpx.SGD(lr=0.1), "momentum": bpx.SGD(lr=0.1, momentum=0.9), "adam": bpx.Adam(lr=0.01)}[kind]


def host(x):
    """An independent host copy made by the test itself (not relying on bpx.to_numpy copying)."""
    return np.array(bpx.to_numpy(x), copy=True)


@pytest.mark.parametrize("options,kind", CASES)
def test_nothing_returned_changes_when_training_continues(backend, dtype, to_input, options, kind):
    X, y = data()
    Xd, yd = to_input(X.astype(dtype)), to_input(y)
    net = bpx.MLP([5, 8, 3], backend=backend, dtype=dtype, seed=1, **options)
    opt = make_optimizer(kind)
    history = net.fit(Xd, yd, epochs=2, batch_size=8, optimizer=opt, verbose=0)

    snapshots = [bpx.to_numpy(p) for p in net.params]  # the README's "snapshot"
    expected_snapshots = [s.copy() for s in snapshots]
    outputs = {"forward": net.forward(Xd), "predict": net.predict(Xd), "predict_proba": net.predict_proba(Xd)}
    expected_outputs = {k: host(v) for k, v in outputs.items()}
    cost, grads = net.loss_and_grads(Xd, yd)
    expected_grads = [host(g) for g in grads]
    recorded = history.as_dict()
    expected_history = copy.deepcopy(recorded)
    losses = history.loss
    expected_losses = list(losses)
    metrics = net.evaluate(Xd, yd)
    expected_metrics = dict(metrics)

    # training continues: more epochs, single steps, a train_step with the same optimizer
    net.fit(Xd, yd, epochs=3, batch_size=8, optimizer=opt, verbose=0)
    for _ in range(3):
        net.train_step(Xd, yd, opt)
    assert not np.array_equal(host(net.params[0]), expected_snapshots[0])  # the weights did move

    for i, (s, e) in enumerate(zip(snapshots, expected_snapshots)):
        np.testing.assert_array_equal(s, e, err_msg=f"bpx.to_numpy(net.params[{i}]) changed with training")
    for k, v in outputs.items():
        np.testing.assert_array_equal(host(v), expected_outputs[k], err_msg=f"net.{k}(X) changed with training")
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        np.testing.assert_array_equal(host(g), e, err_msg=f"loss_and_grads gradient {i} changed with training")
    assert history.as_dict() == expected_history and recorded == expected_history
    assert list(losses) == expected_losses and history.loss == expected_losses
    assert metrics == expected_metrics and isinstance(cost, float)


def test_snapshots_after_every_step_keep_each_steps_weights(backend, dtype, to_input):
    """The plotting / keep-the-best-weights pattern: one snapshot per step, all different at the end."""
    X, y = data()
    Xd, yd = to_input(X.astype(dtype)), to_input(y)
    net = bpx.MLP([5, 8, 3], backend=backend, dtype=dtype, seed=2)
    opt = bpx.SGD(lr=0.5)
    trail, truth = [], []
    for _ in range(5):
        net.train_step(Xd, yd, opt)
        trail.append(bpx.to_numpy(net.params[0]))
        truth.append(host(net.params[0]))
    for k, (snap, want) in enumerate(zip(trail, truth)):
        np.testing.assert_array_equal(snap, want, err_msg=f"the snapshot of step {k + 1} changed")
    assert not np.array_equal(trail[0], trail[-1])


def test_to_numpy_of_a_prediction_is_independent(backend, dtype, to_input):
    """Writing into a to_numpy copy never reaches the network or its next outputs."""
    X, _ = data()
    net = bpx.MLP([5, 8, 3], backend=backend, dtype=dtype, seed=3)
    W = bpx.to_numpy(net.params[0])
    before = host(net.params[0])
    out = bpx.to_numpy(net.forward(to_input(X.astype(dtype))))
    if W.flags.writeable:
        W[...] = 0.0
    np.testing.assert_array_equal(host(net.params[0]), before)
    if out.flags.writeable:
        out[...] = 0.0
    assert np.any(host(net.forward(to_input(X.astype(dtype)))) != 0.0)
