"""Seed 003's cat classifier: 12288 -> 20 -> 7 -> 5 -> 1, ReLU, sigmoid output, binary cross-entropy,
full-batch gradient descent at lr 0.0075 for 2,500 epochs, pixels / 255, from the seed's own initial
weights (``np.random.seed(1)``, randn / sqrt(fan_in)).

The data (the cat classifier tutorial's ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``) is not shipped with bpx. With
it, this script trains, prints the accuracies (the seed publishes train 0.986, test 0.80) and draws
``cat_classifier.png``; without it, it says so and leaves the committed figure as it is (the figure in
the docs was made by this script with the data present). Needs h5py and matplotlib.

    python examples/cat_classifier.py --data DATA_DIR [--figures DIR]      (DATA_DIR default: $BPX_CAT_DATA)

The docs build runs it with ``BPX_CAT_DATA`` unset, so it keeps the committed figure: the run takes
one to four minutes on two cores (float64, 2,500 epochs), too long for every build.
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np

import bpx
from bpx.datasets import load

DIMS = [12288, 20, 7, 5, 1]


def seed003_network():
    """The network with the cat classifier tutorial's initial weights (its W is (n_out, n_in); bpx's is the transpose)."""
    net = bpx.MLP(DIMS, activation="relu", output="sigmoid", loss="binary_cross_entropy", dtype="float64")
    rs = np.random.RandomState(1)
    params = []
    for l in range(1, len(DIMS)):
        params += [(rs.randn(DIMS[l], DIMS[l - 1]) / np.sqrt(DIMS[l - 1])).T, np.zeros(DIMS[l])]
    net.set_params(params)
    return net


def main(data, figures):
    train_file, test_file = Path(data or ".") / "train_catvnoncat.h5", Path(data or ".") / "test_catvnoncat.h5"
    if not data or not (train_file.exists() and test_file.exists()):
        where = data or "(no --data, no $BPX_CAT_DATA)"
        print(f"the cat classifier tutorial's data is not in {where}: keeping the committed figure")
        return
    train, test = load(train_file), load(test_file)
    X, Xt = train.X / 255, test.X / 255
    y, yt = train.y.reshape(-1, 1).astype(float), test.y.reshape(-1, 1).astype(float)
    net = seed003_network()
    start = time.perf_counter()
    history = net.fit(X, y, epochs=2500, batch_size=None, optimizer=bpx.SGD(lr=0.0075), shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    train_acc, test_acc = net.evaluate(X, y)["accuracy"], net.evaluate(Xt, yt)["accuracy"]
    print(f"2,500 full-batch epochs in {seconds:.1f} s: train accuracy {train_acc:.3f}, test accuracy {test_acc:.2f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.plot(np.arange(1, len(history.loss) + 1), history.loss)
    ax.set(xlabel="epoch (full batch)", ylabel="cost (binary cross-entropy)",
           title=f"the cat classifier: train {train_acc:.3f}, test {test_acc:.2f}")
    fig.tight_layout()
    Path(figures).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(figures) / "cat_classifier.png", dpi=100, metadata={"Software": None})
    print(f"wrote {Path(figures) / 'cat_classifier.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("BPX_CAT_DATA", ""),
                        help="folder with train_catvnoncat.h5 and test_catvnoncat.h5")
    parser.add_argument("--figures", default=".", help="folder for the PNG (default: here)")
    args = parser.parse_args()
    main(args.data, args.figures)
