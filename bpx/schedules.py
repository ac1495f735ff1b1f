"""Learning-rate schedules: the rate as a function of the 1-based step count t. Pass one as ``lr=`` to
any optimizer (``bpx.Adam(lr=bpx.schedules.Cosine(1e-3, total_steps=1000, warmup=100))``)."""

from .optimizers._schedules import SCHEDULES, Constant, Cosine, Exponential, InverseScaling, MultiStep, OneCycle, Schedule, Step

__all__ = ["SCHEDULES", "Constant", "Cosine", "Exponential", "InverseScaling", "MultiStep", "OneCycle", "Schedule",
           "Step"]
