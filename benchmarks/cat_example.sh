#!/usr/bin/env bash
# Seed 003's cat classifier from the command line: a 4-layer network (12288 -> 20 -> 7 -> 5 -> 1),
# ReLU hidden layers, a sigmoid output with binary cross-entropy, full-batch gradient descent
# (SGD without momentum) at lr 0.0075 for 2,500 epochs, pixels scaled by 1/255, and the seed's
# initialisation W ~ randn / sqrt(fan_in) (--init lecun). The seed publishes ~0.98 train and ~0.80
# test accuracy. Not a test: the data lives outside the repository.
#
# Step 1 is the CLI run: bpx draws its initial weights from numpy.random.default_rng(seed), so the
# numbers differ from the seed's (its weights come from the legacy np.random.seed(1) stream); with 209
# training images the test accuracy depends on them (0.66-0.76 for --seed 0..4 here).
# Step 2 (skip with CAT_EXACT=0) loads the seed's exact initial weights through the library and trains
# with the same settings in float64: it reproduces the seed's published run (train 0.9856, test 0.80,
# cost 0.088).
#
# usage: benchmarks/cat_example.sh [DATA_DIR] [extra bpx train flags]   (DATA_DIR default ../shared/data)
set -euo pipefail
DATA=${1:-../shared/data}
shift || true
OUT=${OUT:-cat-model.npz}
bpx train --data "$DATA/train_catvnoncat.h5" --test-data "$DATA/test_catvnoncat.h5" \
    --hidden 20,7,5 --activation relu --loss binary_cross_entropy --output sigmoid \
    --optimizer sgd --lr 0.0075 --batch-size full --epochs 2500 --scale 255 --init lecun \
    --out "$OUT" "$@"
bpx evaluate --model "$OUT" --data "$DATA/test_catvnoncat.h5"

if [ "${CAT_EXACT:-1}" != "0" ]; then
python - "$DATA" <<'PY'
import sys

import numpy as np

import bpx
from bpx import datasets
from bpx.preprocessing import Scaler

folder = sys.argv[1]
train = datasets.load(f"{folder}/train_catvnoncat.h5")
test = datasets.load(f"{folder}/test_catvnoncat.h5")
dims = [12288, 20, 7, 5, 1]
net = bpx.MLP(dims, activation="relu", output="sigmoid", loss="binary_cross_entropy", dtype="float64", init="lecun")
np.random.seed(1)  # seed 003's iniPara: W[l] = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b = 0; bpx stores W transposed
params = []
for i in range(1, len(dims)):
    params += [(np.random.randn(dims[i], dims[i - 1]) / np.sqrt(dims[i - 1])).T, np.zeros(dims[i])]
net.set_params(params)
scale = Scaler("255")
Xtr, Xte = scale.transform(train.X), scale.transform(test.X)
net.fit(Xtr, train.y, epochs=2500, batch_size=None, optimizer=bpx.SGD(lr=0.0075), shuffle=False, verbose=0)
tr, te = net.evaluate(Xtr, train.y), net.evaluate(Xte, test.y)
print(f"seed 003's initial weights: train accuracy {tr['accuracy']:.4f}, train cost {tr['loss']:.4f}, "
      f"test accuracy {te['accuracy']:.4f}")
PY
fi
