#!/usr/bin/env bash
# Seed 003's cat classifier from the command line: a 4-layer network (12288 -> 20 -> 7 -> 5 -> 1),
# ReLU hidden layers, a sigmoid output with binary cross-entropy, full-batch gradient descent
# (SGD without momentum) at lr 0.0075 for 2,500 epochs, pixels scaled by 1/255, and the seed's
# initialisation W ~ randn / sqrt(fan_in) (--init lecun). The seed publishes ~0.98 train and ~0.80
# test accuracy. Not a test: the data lives outside the repository.
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
