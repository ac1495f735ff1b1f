"""The training step written once (bpx.step): a pure function of (params, optimizer state, batch),
the same numbers eager and compiled, and compiled epochs that compile once per shape."""

import numpy as np
import pytest

import bpx
import bpx.training._step as bstep
from bpx.data._adapter import as_data

OPTIMIZERS = [lambda: bpx.SGD(0.1), lambda: bpx.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
              lambda: bpx.Adam(0.01, weight_decay=0.01)]


def _data(m=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, 4)), rng.integers(0, 3, m)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_the_step_is_a_pure_function(backend, dtype, make, tol):
    """step(params, state, batch) -> (params, state, cost) leaves its inputs as they were, and gives
    what the stateful optimizer gives."""
    X, y = _data()
    net = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype, seed=1)
    Xd, Yd = as_data(net, X, y)
    optimizer = make()
    params = net.params
    state = optimizer.init(params)
    before = [bpx.to_numpy(a) for a in params + [a for arrays in state.values() for a in arrays]]
    coefs = optimizer.coefficients(1)
    new, new_state, cost, _ = bstep.step(net, optimizer, params, state, coefs, Xd, Yd)
    after = [bpx.to_numpy(a) for a in params + [a for arrays in state.values() for a in arrays]]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert set(new_state) == set(state)
    expected_cost, grads = net.loss_and_grads(X, y)
    expected = make().step([backend.xp.asarray(p, copy=True) for p in params], grads)
    assert float(cost) == pytest.approx(expected_cost, rel=tol(dtype)["rtol"])
    for a, b in zip(new, expected):
        np.testing.assert_allclose(bpx.to_numpy(a), bpx.to_numpy(b), **tol(dtype))


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_train_step_and_fit_match_the_eager_step(backend, dtype, make, tol):
    """Compiled where the backend compiles, eager elsewhere: train_step and fit give the numbers of
    the eager step (bpx.training._step.eager_step) batch by batch."""
    X, y = _data(m=23)
    nets = [bpx.MLP([4, 6, 3], backend=backend, dtype=dtype, seed=2) for _ in range(2)]
    optimizers = [make(), make()]
    costs = [nets[0].train_step(X[:7], y[:7], optimizers[0])]
    Xd, Yd = as_data(nets[1], X[:7], y[:7])
    costs.append(float(bstep.eager_step(nets[1], optimizers[1], Xd, Yd)[0]))
    assert costs[0] == pytest.approx(costs[1], rel=tol(dtype)["rtol"])
    history = nets[0].fit(X, y, epochs=2, batch_size=5, optimizer=optimizers[0], shuffle=False, verbose=0)
    Xd, Yd = as_data(nets[1], X, y)
    losses = []
    for _ in range(2):
        total = 0.0
        for i in range(0, 23, 5):
            j = min(i + 5, 23)
            total += float(bstep.eager_step(nets[1], optimizers[1], Xd[i:j, :], Yd[i:j, :])[0]) * (j - i)
        losses.append(total / 23)
    np.testing.assert_allclose(history.loss, losses, **tol(dtype))
    assert optimizers[0].t == optimizers[1].t == 11
    for a, b in zip(nets[0].params, nets[1].params):
        np.testing.assert_allclose(bpx.to_numpy(a), bpx.to_numpy(b), **tol(dtype))


def test_compiled_epochs_compile_once_per_shape(backend):
    if not bstep.compiles(bpx.MLP([4, 3], backend=backend), bpx.SGD()):
        pytest.skip(f"{backend.spec} does not compile")
    X, y = _data(m=40)
    optimizer = bpx.SGD(0.1, momentum=0.9)
    for seed in (0, 1):  # a second network of the same architecture reuses the compiled epoch
        net = bpx.MLP([4, 6, 3], backend=backend, seed=seed)
        net.fit(X, y, epochs=3, batch_size=8, optimizer=optimizer, verbose=0)
        net.fit(X, y, epochs=2, batch_size=8, optimizer=optimizer, verbose=0)
        optimizer.reset()
    compiled = bstep.Compiled.get(net, optimizer)
    assert compiled.epoch._cache_size() == 1  # shuffled, 5 full batches of 8
    net.fit(X, y, epochs=1, batch_size=8, optimizer=optimizer, shuffle=False, verbose=0)
    net.fit(X[:35], y[:35], epochs=1, batch_size=8, optimizer=optimizer, verbose=0)
    assert compiled.epoch._cache_size() == 3  # one more per new shape (unshuffled; 4 batches + 3 rows)
    assert bstep.Compiled.get(net, bpx.SGD(0.1, momentum=0.8)) is not compiled  # other hyperparameters
    # the learning rate is a per-step input: another rate, or a schedule, compiles nothing
    assert bstep.Compiled.get(net, bpx.SGD(0.2, momentum=0.9)) is compiled
    assert bstep.Compiled.get(net, bpx.SGD(bpx.schedules.Exponential(0.1, 0.9), momentum=0.9)) is compiled
    optimizer.lr = 0.05
    net.fit(X, y, epochs=1, batch_size=8, optimizer=optimizer, verbose=0)
    assert compiled.epoch._cache_size() == 3


def test_sample_weights_reach_every_step(backend, dtype, tol):
    """fit's sample_weight on this backend (compiled or eager) gives numpy's numbers, and unit weights
    give the unweighted run."""
    X, y = _data(m=33)
    w = np.random.default_rng(5).uniform(0.0, 2.0, 33)
    runs = {}
    for spec, weights in ((backend, w), ("numpy", w), (backend, np.ones(33)), (backend, None)):
        net = bpx.MLP([4, 6, 3], backend=spec, dtype=dtype, seed=4)
        history = net.fit(X, y, epochs=2, batch_size=8, optimizer=bpx.SGD(0.2, momentum=0.5), sample_weight=weights,
                          verbose=0)
        runs[(str(spec), None if weights is None else float(weights[0]))] = ([bpx.to_numpy(p) for p in net.params],
                                                                            history.loss)
    (mine, theirs, ones, plain) = runs.values()
    for a, b in zip(mine[0] + ones[0], theirs[0] + plain[0]):
        np.testing.assert_allclose(a, b, **tol(dtype))
    assert not np.allclose(mine[0][0], plain[0][0])  # the weights did change the training
