"""Seed 004's worked example: the 2-2-2 sigmoid network, one backprop step by hand, then 10,000.

Prints the tutorial's numbers (forward outputs, total error, the eight weights after one step, which
are those of Mazur's original post, not those of the seed's buggy program) and draws
``worked_example_222.png``: the total error over 10,000 steps, and the eight weights after the first
step next to the published values.

    python examples/worked_example_222.py [--figures DIR]
"""

import argparse
from pathlib import Path

import numpy as np

import bpx

# Mazur's published weights after one step (w1..w8); the seed's program prints other values for
# w2, w3, w6, w7 (it multiplies element-wise where the outer product is needed)
PUBLISHED = [0.149780716, 0.19956143, 0.24975114, 0.29950229, 0.35891648, 0.408666186, 0.511301270, 0.561370121]


def network():
    net = bpx.MLP([2, 2, 2], activation="sigmoid", output="sigmoid", loss="mse", dtype="float64")
    net.set_params([np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35]),
                    np.array([[0.40, 0.50], [0.45, 0.55]]), np.array([0.60, 0.60])])
    return net


def named_weights(net):
    """w1..w8 in the tutorial's order: w1, w2 feed h1 (from i1, i2), w3, w4 feed h2, w5..w8 likewise."""
    W1, _, W2, _ = (bpx.to_numpy(p) for p in net.params)
    return [W1[0, 0], W1[1, 0], W1[0, 1], W1[1, 1], W2[0, 0], W2[1, 0], W2[0, 1], W2[1, 1]]


def main(figures):
    x, y = np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])
    net = network()
    out = bpx.to_numpy(net.forward(x))[0]
    sgd = bpx.SGD(lr=0.5)
    costs = [float(net.train_step(x, y, sgd))]
    after_one = named_weights(net)
    costs += [float(net.train_step(x, y, sgd)) for _ in range(9_999)]
    print(f"forward {out[0]:.8f} {out[1]:.9f}; E_total {costs[0]:.9f}")
    print("after one step: " + " ".join(f"w{k + 1} {w:.9f}" for k, w in enumerate(after_one)))
    assert np.allclose(after_one, PUBLISHED, atol=1e-8), "bpx no longer reproduces the tutorial"
    print(f"E_total after 10,000 steps: {float(net.loss(x, y)):.3e}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.semilogy(np.arange(1, len(costs) + 1), costs)
    left.set(xlabel="step", ylabel="E_total (before the step)", title="2-2-2 network, SGD lr 0.5")
    names = [f"w{k + 1}" for k in range(8)]
    k = np.arange(8)
    right.bar(k - 0.2, [w - w0 for w, w0 in zip(after_one, [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55])],
              0.4, label="bpx")
    right.bar(k + 0.2, [w - w0 for w, w0 in zip(PUBLISHED, [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55])],
              0.4, label="published (Mazur)")
    right.set_xticks(k, names)
    right.set(ylabel="change in the first step", title="the eight weights after one step")
    right.legend()
    fig.tight_layout()
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / "worked_example_222.png", dpi=100, metadata={"Software": None})
    print(f"wrote {Path(figures) / 'worked_example_222.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--figures", default=".", help="folder for the PNG (default: here)")
    main(parser.parse_args().figures)
