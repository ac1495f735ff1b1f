"""Golden tests from the seed documents and scikit-learn's worked example, on every backend."""

import numpy as np
import pytest

import bpx

# Seed 004 (Mazur's worked example). The seed writes weights as (out, in): h1 = 0.15 i1 + 0.20 i2.
# bpx's W is (n_in, n_out), so W1[i, j] connects input i to hidden unit j.
SEED004_X = np.array([[0.05, 0.10]])
SEED004_Y = np.array([[0.01, 0.99]])
SEED004_PARAMS = [
    np.array([[0.15, 0.25], [0.20, 0.30]]),  # w1 w3 / w2 w4
    np.array([0.35, 0.35]),
    np.array([[0.40, 0.50], [0.45, 0.55]]),  # w5 w7 / w6 w8
    np.array([0.60, 0.60]),
]
# Mazur's published weights after one step with lr 0.5 (w1..w8), as printed (8 or 9 decimals).
SEED004_AFTER = {
    "w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
    "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121",
}


def published(name):
    """The published value and half a unit of its last printed decimal."""
    text = SEED004_AFTER[name]
    return float(text), 0.5 * 10.0 ** -len(text.split(".")[1])


def seed004_by_hand():
    """The one-step update worked with explicit outer products, in float64 numpy."""
    x, y = SEED004_X[0], SEED004_Y[0]
    W1, b1, W2, b2 = SEED004_PARAMS
    h = 1 / (1 + np.exp(-(x @ W1 + b1)))
    o = 1 / (1 + np.exp(-(h @ W2 + b2)))
    d2 = (o - y) * o * (1 - o)
    d1 = (W2 @ d2) * h * (1 - h)
    return W1 - 0.5 * np.outer(x, d1), W2 - 0.5 * np.outer(h, d2)


def seed004_net(backend, dtype="float64"):
    net = bpx.MLP([2, 2, 2], activation="sigmoid", output="sigmoid", loss="mse", backend=backend, dtype=dtype)
    net.set_params(SEED004_PARAMS)
    return net


def named_weights(net):
    W1, _, W2, _ = (bpx.to_numpy(p) for p in net.params)
    return {"w1": W1[0, 0], "w2": W1[1, 0], "w3": W1[0, 1], "w4": W1[1, 1],
            "w5": W2[0, 0], "w6": W2[1, 0], "w7": W2[0, 1], "w8": W2[1, 1]}


def test_seed004_forward_and_total_error(backend, float64, to_input):
    net = seed004_net(backend)
    out = bpx.to_numpy(net.forward(to_input(SEED004_X)))
    np.testing.assert_allclose(out, [[0.75136507, 0.772928465]], atol=1e-8)
    assert net.loss(to_input(SEED004_X), to_input(SEED004_Y)) == pytest.approx(0.298371109, abs=1e-9)


def test_seed004_one_step_all_eight_weights(backend, float64, to_input):
    net = seed004_net(backend)
    before = net.train_step(to_input(SEED004_X), to_input(SEED004_Y), bpx.SGD(lr=0.5))
    assert before == pytest.approx(0.2983711087600027, abs=1e-12)
    after = named_weights(net)
    W1, W2 = seed004_by_hand()
    np.testing.assert_allclose(bpx.to_numpy(net.params[0]), W1, rtol=0, atol=1e-12)
    np.testing.assert_allclose(bpx.to_numpy(net.params[2]), W2, rtol=0, atol=1e-12)
    for name in SEED004_AFTER:
        value, rounding = published(name)
        assert abs(after[name] - value) <= rounding + 1e-12, name


def test_seed004_program_gets_the_off_diagonal_weights_wrong(backend, float64):
    """The seed's program multiplies deltas by activations element-wise where the outer product is
    needed; its printed w2, w3, w6, w7 differ from the true gradient step. bpx reproduces the math."""
    weights = np.array([[[0.15, 0.20], [0.25, 0.30]], [[0.40, 0.45], [0.50, 0.55]]])
    l0, bias, y, lr = np.array([[0.05], [0.10]]), np.array([[0.35], [0.60]]), np.array([[0.01], [0.99]]), 0.5
    l1 = 1 / (1 + np.exp(-(weights[0] @ l0 + bias[0])))
    l2 = 1 / (1 + np.exp(-(weights[1] @ l1 + bias[1])))
    e1, e2 = -(y - l2), l2 * (1 - l2)
    seed_w_out = weights[1] - lr * (e1 * e2 * l1)  # the seed's element-wise product
    seed_w_hidden = weights[0] - lr * (((e1 * e2) * weights[1]).sum(axis=0) * (l1 * (1 - l1)) * l0)
    seed = {"w2": seed_w_hidden[0, 1], "w3": seed_w_hidden[1, 0], "w6": seed_w_out[0, 1], "w7": seed_w_out[1, 0]}
    printed = {"w2": 0.19975043, "w3": 0.24956268, "w6": 0.40891648, "w7": 0.51137012}
    net = seed004_net(backend)
    net.train_step(SEED004_X, SEED004_Y, bpx.SGD(lr=0.5))
    ours = named_weights(net)
    for name in printed:
        assert seed[name] == pytest.approx(printed[name], abs=1e-8)  # we replay the seed's program
        assert abs(ours[name] - seed[name]) > 1e-5  # and the math differs from it
        value, rounding = published(name)
        assert abs(ours[name] - value) <= rounding + 1e-12


def test_seed002_gradients_match_the_seed_program(backend, float64, to_input):
    """Seed 002's numpy two-layer ReLU net (no biases, loss Σ(ŷ−y)²): its grad_w1/grad_w2 equal
    bpx's gradients times 2m (bpx's cost is ½·mean)."""
    rng = np.random.default_rng(2)
    N, D_in, H, D_out = 64, 100, 30, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    h = x.dot(w1)
    h_relu = np.maximum(h, 0)
    grad_y_pred = 2.0 * (h_relu.dot(w2) - y)
    grad_w2 = h_relu.T.dot(grad_y_pred)
    grad_h = grad_y_pred.dot(w2.T)
    grad_h[h < 0] = 0
    grad_w1 = x.T.dot(grad_h)
    net = bpx.MLP([D_in, H, D_out], activation="relu", output="identity", loss="mse", backend=backend, dtype="float64")
    net.set_params([w1, np.zeros(H), w2, np.zeros(D_out)])
    cost, grads = net.loss_and_grads(to_input(x), to_input(y))
    assert cost * 2 * N == pytest.approx(np.square(h_relu.dot(w2) - y).sum(), rel=1e-12)
    np.testing.assert_allclose(bpx.to_numpy(grads[0]) * 2 * N, grad_w1, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(bpx.to_numpy(grads[2]) * 2 * N, grad_w2, rtol=1e-10, atol=1e-8)


def test_seed002_relu_network_trains_with_falling_loss(backend, dtype, to_input):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 100)), rng.standard_normal((64, 10))
    net = bpx.MLP([100, 30, 10], activation="relu", output="identity", loss="mse", backend=backend, dtype=dtype, seed=0)
    history = net.fit(to_input(x), to_input(y), epochs=300, optimizer=bpx.SGD(lr=0.05), verbose=0)
    losses = history.loss
    assert losses[-1] < 0.1 * losses[0]
    assert sum(b < a for a, b in zip(losses, losses[1:])) > 0.95 * (len(losses) - 1)


def test_xor_is_learned(backend, dtype, to_input):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = bpx.MLP([2, 8, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy",
                  backend=backend, dtype=dtype, seed=3)
    net.fit(to_input(X), to_input(y), epochs=500, optimizer=bpx.SGD(lr=0.5, momentum=0.9), verbose=0)
    np.testing.assert_array_equal(bpx.to_numpy(net.predict(to_input(X))), y)
    assert net.loss(to_input(X), to_input(y)) < 0.05


def test_sklearn_worked_example_test_fit(backend, float64, to_input):
    """scikit-learn's neural_network test_fit: one SGD step (lr 0.1, alpha 0.1) of a 3-2-1 logistic
    net on one sample, worked out by hand in their test."""
    net = bpx.MLP([3, 2, 1], activation="sigmoid", output="sigmoid", loss="binary_cross_entropy",
                  backend=backend, dtype="float64")
    net.set_params([np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([0.1, 0.1]),
                    np.array([[0.1], [0.2]]), np.array([1.0])])
    net.train_step(to_input(np.array([[0.6, 0.8, 0.7]])), to_input(np.array([0])), bpx.SGD(lr=0.1, weight_decay=0.1))
    W1, b1, W2, b2 = (bpx.to_numpy(p) for p in net.params)
    np.testing.assert_almost_equal(W1, [[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]], decimal=3)
    np.testing.assert_almost_equal(W2, [[0.04706], [0.154089]], decimal=3)
    np.testing.assert_almost_equal(b1, [0.098333, 0.09626], decimal=3)
    np.testing.assert_almost_equal(b2, [0.9235], decimal=3)
    # and exactly, from the same equations worked in float64 by hand
    h = 1 / (1 + np.exp(-(np.array([0.6, 0.8, 0.7]) @ np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]) + 0.1)))
    o = 1 / (1 + np.exp(-(h @ np.array([0.1, 0.2]) + 1.0)))
    d2 = o - 0.0
    d1 = h * (1 - h) * d2 * np.array([0.1, 0.2])
    np.testing.assert_allclose(b2, 1.0 - 0.1 * d2, rtol=1e-12)
    np.testing.assert_allclose(b1, 0.1 - 0.1 * d1, rtol=1e-12)


# -- bias-free networks: seeds 002 and 000 replayed step for step ----------------------------------------
def seed002_program(steps=500, seed=2):
    """Seed 002's NumPy program as printed (its RNG made explicit: a seeded RandomState in place of the
    global np.random): the initial (x, y, w1, w2), its loss at every step t (printed before the update),
    and the final weights."""
    rs = np.random.RandomState(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x = rs.randn(N, D_in)
    y = rs.randn(N, D_out)
    w1 = rs.randn(D_in, H)
    w2 = rs.randn(H, D_out)
    start = (x, y, w1.copy(), w2.copy())
    learning_rate = 1e-6
    losses = []
    for _t in range(steps):
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)  # print(t, loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    return start, np.array(losses), (w1, w2)


# The seed's loss is E = Σ(ŷ − y)² over all N samples; bpx's mse cost is C = (1/N) Σ ½Σ(ŷ − y)² = E / (2N).
# So ∂E/∂w = 2N ∂C/∂w, and the seed's step w -= 1e-6 ∂E/∂w is bpx's w -= lr ∂C/∂w with lr = 2N · 1e-6
# = 128e-6. Both factors are powers of two (2N = 128), so in binary floating point the gradients differ
# by an exact scaling and lr · ∂C/∂w rounds exactly as 1e-6 · ∂E/∂w does: the trajectories are the same
# bits wherever the matrix products are (NumPy, array-api-strict), and E = 2N · C exactly.
SEED002_N = 64
SEED002_LR = 2 * SEED002_N * 1e-6
SEED002 = {}


def seed002_reference():
    if not SEED002:
        SEED002["run"] = seed002_program()
    return SEED002["run"]


def seed002_net(backend, dtype):
    (x, y, w1, w2), _, _ = seed002_reference()
    net = bpx.MLP([1000, 100, 10], activation="relu", output="identity", loss="mse", bias=False,
                  backend=backend, dtype=dtype)
    assert net.param_names() == ["W1", "W2"]
    net.set_params([w1, w2])
    return net, x, y


def test_seed002_replayed_step_for_step(backend, float64, to_input):
    """500 steps of seed 002's bias-free two-layer ReLU net: bpx's loss at every step equals the seed
    program's (exactly on the NumPy-based backends), and so do the final weights."""
    _, losses, (w1, w2) = seed002_reference()
    net, x, y = seed002_net(backend, "float64")
    X, Y = to_input(x), to_input(y)
    opt = bpx.SGD(lr=SEED002_LR)
    ours = np.array([net.train_step(X, Y, opt) * 2 * SEED002_N for _ in range(500)])
    assert losses[0] > 1e7 and losses[-1] < 1e-6  # the seed's program does learn
    W1, W2 = (bpx.to_numpy(p) for p in net.params)
    if backend.name in ("numpy", "array_api_strict"):  # the same BLAS products: the same bits
        np.testing.assert_array_equal(ours, losses)
        np.testing.assert_array_equal(W1, w1)
        np.testing.assert_array_equal(W2, w2)
    else:  # another matmul summation order: the trajectory agrees to rounding
        np.testing.assert_allclose(ours, losses, rtol=1e-6)
        np.testing.assert_allclose(W1, w1, rtol=0, atol=1e-10)
        np.testing.assert_allclose(W2, w2, rtol=0, atol=1e-10)


def test_seed002_replayed_in_float32(backend, to_input):
    """In float32 the first 100 steps follow the seed's float64 trajectory to 1e-4 (later the loss
    falls below what float32 resolves against the targets' size)."""
    _, losses, _ = seed002_reference()
    net, x, y = seed002_net(backend, "float32")
    X, Y = to_input(x.astype(np.float32)), to_input(y.astype(np.float32))
    opt = bpx.SGD(lr=SEED002_LR)
    ours = np.array([net.train_step(X, Y, opt) * 2 * SEED002_N for _ in range(100)])
    np.testing.assert_allclose(ours, losses[:100], rtol=1e-4)


def seed000_program(X, Y, Ws, eta, epochs):
    """Seed 000's equations in NumPy, sample by sample: a[l] = g(a[l-1]ᵀ W[l-1]) with the logistic g and
    no bias; J = ½‖y − a[L]‖²; δ[L] = (y − a[L]) ⊙ a[L](1 − a[L]) (the seed's text writes z[L] for the
    second a[L] in (y − a), a slip: −∂J/∂a = y − a); δ[l] = W[l] δ[l+1] ⊙ a[l](1 − a[l]);
    W[l] := W[l] + η a[l] δ[l+1]ᵀ. Returns the weights after every update and J before it."""
    g = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731 (the seed's g)
    Ws = [W.copy() for W in Ws]
    history, errors = [], []
    for _ in range(epochs):
        for x, y in zip(X, Y):
            a = [x]
            for W in Ws:
                a.append(g(a[-1] @ W))
            errors.append(0.5 * np.sum((y - a[-1]) ** 2))
            delta = (y - a[-1]) * a[-1] * (1 - a[-1])
            for l in range(len(Ws) - 1, -1, -1):
                below = (Ws[l] @ delta) * a[l] * (1 - a[l]) if l else None
                Ws[l] = Ws[l] + eta * np.outer(a[l], delta)
                delta = below
            history.append([W.copy() for W in Ws])
    return history, errors


def test_seed000_bias_free_sigmoid_network_step_for_step(backend, float64, to_input):
    """Seed 000's four-layer logistic network without biases, trained sample by sample on J = ½‖y − a‖²:
    bpx (bias=False, sigmoid/sigmoid, mse, batch 1) takes the same steps. With one sample bpx's cost
    is exactly J, so the learning rate is the seed's η."""
    rng = np.random.default_rng(0)
    sizes = [3, 4, 3, 2]
    X = rng.uniform(-1, 1, (8, 3))
    Y = np.stack([X[:, 0] > 0, X[:, 1] * X[:, 2] > 0], axis=1) * 0.8 + 0.1  # targets in (0, 1)
    net = bpx.MLP(sizes, activation="sigmoid", output="sigmoid", loss="mse", bias=False, backend=backend,
                  dtype="float64", seed=0)
    Ws = [bpx.to_numpy(W) for W in net.params]
    history, errors = seed000_program(X, Y, Ws, eta=2.0, epochs=25)
    opt, k = bpx.SGD(lr=2.0), 0
    for _ in range(25):
        for i in range(8):
            cost = net.train_step(to_input(X[i:i + 1]), to_input(Y[i:i + 1]), opt)
            assert cost == pytest.approx(errors[k], rel=1e-12, abs=1e-15)
            for W, expected in zip(net.params, history[k]):
                np.testing.assert_allclose(bpx.to_numpy(W), expected, rtol=0, atol=1e-13)
            k += 1
    assert np.mean(errors[-8:]) < 0.25 * np.mean(errors[:8])  # it learns
    # and fit(batch_size=1, shuffle=False) is the same online training
    again = bpx.MLP(sizes, activation="sigmoid", output="sigmoid", loss="mse", bias=False, backend=backend,
                    dtype="float64", seed=0)
    again.fit(to_input(X), to_input(Y), epochs=25, batch_size=1, shuffle=False, optimizer=bpx.SGD(lr=2.0), verbose=0)
    for W, expected in zip(again.params, history[-1]):
        np.testing.assert_allclose(bpx.to_numpy(W), expected, rtol=0, atol=1e-13)
