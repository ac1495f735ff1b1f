"""`bpx train`'s optimizer, learning-rate schedule and clipping flags, in one block, and the optimizer
they build (docs/guide/optimizers.md).

Schedule lengths count optimizer steps (one per batch); ``total`` is epochs × batches per epoch.
"""

from __future__ import annotations

import argparse
import math

from bpx.cli.args import finite_float, nonnegative_int, positive_float, positive_int, unit_interval

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "lbfgs")
DEFAULT_LR = {"adam": 0.003, "adamw": 0.003, "sgd": 0.01, "rmsprop": 0.001, "adagrad": 0.01}
SCHEDULES = ("constant", "cosine", "step", "exponential", "invscaling", "onecycle")
# each schedule parameter and the schedules it applies to
SCHEDULE_FLAGS = {"warmup": ("cosine",), "min_lr": ("cosine",), "step_size": ("step",),
                  "gamma": ("step", "exponential"), "power_t": ("invscaling",), "pct_start": ("onecycle",)}


def add_optimizer_options(p):
    """The flags, as one argument group of ``bpx train``."""
    g = p.add_argument_group("optimizer, learning-rate schedule, clipping (docs/guide/optimizers.md)")
    g.add_argument("--weight-decay", type=float_at_least_0, metavar="LAMBDA",
                   help="weight decay on the weight matrices: L2 for sgd/adam/rmsprop/adagrad/lbfgs, decoupled for "
                        "adamw (default 0; adamw 0.01)")
    g.add_argument("--lr-schedule", choices=SCHEDULES, default="constant",
                   help="the learning rate per step (default constant): cosine (with --warmup, --min-lr), step "
                        "(--step-size, --gamma), exponential (--gamma), invscaling (--power-t), onecycle "
                        "(--pct-start; --lr is the peak)")
    g.add_argument("--warmup", type=nonnegative_int, metavar="STEPS", help="cosine: linear warmup steps (default 0)")
    g.add_argument("--min-lr", type=float_at_least_0, help="cosine: the final rate (default 0)")
    g.add_argument("--step-size", type=positive_int, metavar="STEPS",
                   help="step: steps between decays (default: a third of the run)")
    g.add_argument("--gamma", type=fraction_open, help="step: the factor of each decay (default 0.1); exponential: the "
                                                       "factor per step (default: the rate ends at 1/100 of --lr)")
    g.add_argument("--power-t", type=float_at_least_0, help="invscaling: lr / t^power_t (default 0.5)")
    g.add_argument("--pct-start", type=unit_interval, help="onecycle: the fraction of the run spent rising "
                                                           "(default 0.3)")
    g.add_argument("--clip-norm", type=positive_float, metavar="NORM",
                   help="clip the gradients to this global norm (torch's clip_grad_norm_)")
    g.add_argument("--clip-value", type=positive_float, metavar="VALUE",
                   help="clip every gradient entry to [-VALUE, VALUE]")
    g.add_argument("--precision", choices=("bf16", "fp16"),
                   help="mixed precision: bfloat16 / float16 matrix products, float32 parameters and loss; fp16 "
                        "with dynamic loss scaling (bf16: torch and jax backends, fp16: torch, jax and cupy; "
                        "default: the --dtype throughout)")


def float_at_least_0(text):
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction_open(text):
    """A factor in (0, 1]."""
    value = finite_float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}")
    return value


def check_optimizer_options(args, error):
    """Flags that do not go together: ``error(message)`` (argparse's usage error), before any work."""
    for name, applies in SCHEDULE_FLAGS.items():
        if getattr(args, name) is not None and args.lr_schedule not in applies:
            error(f"argument --{name.replace('_', '-')}: applies to --lr-schedule {' or '.join(applies)}")
    if args.optimizer == "lbfgs":
        for flag, value in (("lr", args.lr), ("momentum", args.momentum), ("clip-norm", args.clip_norm),
                            ("clip-value", args.clip_value)):
            if value is not None:
                error(f"argument --{flag}: does not apply to --optimizer lbfgs (a full-batch line search)")
        if args.lr_schedule != "constant":
            error("argument --lr-schedule: does not apply to --optimizer lbfgs (a full-batch line search)")
        given = any(a == "--batch-size" or a.startswith("--batch-size=") for a in getattr(args, "argv", None) or [])
        if given and getattr(args, "batch_size", None) is not None:
            error(f"argument --batch-size: {args.batch_size} does not apply to --optimizer lbfgs (it trains full "
                  f"batch); leave it out or give --batch-size full")


def build_optimizer(args, n_train):
    """The optimizer the flags describe, for ``n_train`` training samples; sets ``args.batch_size`` to
    None (full batch) for lbfgs. Returns (optimizer, lr): lr is the base (peak) rate, None for lbfgs."""
    import bpx

    decay = args.weight_decay
    if args.optimizer == "lbfgs":
        args.batch_size = None
        return bpx.LBFGS(weight_decay=decay or 0.0), None
    lr = args.lr or DEFAULT_LR[args.optimizer]
    steps = args.epochs * (math.ceil(n_train / args.batch_size) if args.batch_size else 1)
    rate = _schedule(args, lr, steps)
    clip = {"clip_norm": args.clip_norm, "clip_value": args.clip_value}
    if args.optimizer == "sgd":
        optimizer = bpx.SGD(rate, momentum=args.momentum or 0.0, weight_decay=decay or 0.0, **clip)
    elif args.optimizer == "adamw":
        optimizer = bpx.AdamW(rate, weight_decay=0.01 if decay is None else decay, **clip)
    else:
        make = {"adam": bpx.Adam, "rmsprop": bpx.RMSprop, "adagrad": bpx.Adagrad}[args.optimizer]
        optimizer = make(rate, weight_decay=decay or 0.0, **clip)
    return optimizer, lr


def _schedule(args, lr, steps):
    from bpx import schedules

    name = args.lr_schedule
    if name == "constant":
        return lr
    if name == "cosine":
        warmup = args.warmup or 0
        if warmup >= steps:
            raise ValueError(f"--warmup {warmup}: the run has only {steps} steps (epochs x batches per epoch)")
        return schedules.Cosine(lr, steps, warmup=warmup, min_lr=args.min_lr or 0.0)
    if name == "step":
        return schedules.Step(lr, args.step_size or max(1, steps // 3), gamma=0.1 if args.gamma is None else args.gamma)
    if name == "exponential":
        return schedules.Exponential(lr, args.gamma if args.gamma is not None else 0.01 ** (1.0 / max(1, steps - 1)))
    if name == "invscaling":
        return schedules.InverseScaling(lr, power_t=0.5 if args.power_t is None else args.power_t)
    if steps < 2:
        raise ValueError(f"--lr-schedule onecycle: the run has only {steps} step(s); it needs at least 2")
    return schedules.OneCycle(lr, steps, pct_start=args.pct_start or 0.3)
