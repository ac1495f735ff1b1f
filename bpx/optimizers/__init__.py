"""Optimizers: the first-order update rules, L-BFGS, and what shapes an update (learning-rate schedules,
gradient clipping, dynamic loss scaling). Schedules and clipping are public as :mod:`bpx.schedules` and
:mod:`bpx.clipping`."""

from ._first_order import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from ._lbfgs import LBFGS
from ._loss_scaling import LossScaler

__all__ = ["LBFGS", "SGD", "Adagrad", "Adam", "AdamW", "LossScaler", "Optimizer", "RMSprop"]
