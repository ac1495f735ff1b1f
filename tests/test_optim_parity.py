"""The optimizers, schedules and gradient clipping against torch.optim: 200 float64 steps of the same
network on the same batches agree to 1e-10 (weight decay on the weight matrices only: torch gets the
same split with two param groups). The same test on every backend is the eager / compiled (jax) /
Dask agreement: each follows torch's trajectory."""


import numpy as np
import pytest

import bpx
from bpx import schedules

torch = pytest.importorskip("torch")

SIZES = [5, 7, 3]
M, BATCH, EPOCHS = 60, 16, 50  # 4 steps an epoch (the last one of 12 rows): 200 steps
STEPS = EPOCHS * -(-M // BATCH)


def data():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((M, SIZES[0]))
    y = rng.integers(0, SIZES[-1], M)
    return X, y


def torch_trajectory(params0, X, y, make_opt, make_sched=None, clip_norm=None, clip_value=None):
    """``params0`` trained by torch.optim on the batches bpx's ``fit(shuffle=False)`` takes; also returns
    the number of steps at which the clipping bound (a clipped gradient differs from the raw one)."""
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in params0]
    groups = [{"params": [p for p in params if p.ndim == 2]},
              {"params": [p for p in params if p.ndim == 1], "weight_decay": 0.0}]
    opt = make_opt(groups)
    sched = make_sched(opt) if make_sched else None
    Xt = torch.tensor(X)
    Yt = torch.nn.functional.one_hot(torch.tensor(y), SIZES[-1]).to(torch.float64)
    bound = 0
    for _ in range(EPOCHS):
        for start in range(0, M, BATCH):
            A, Y = Xt[start:start + BATCH], Yt[start:start + BATCH]
            for layer in range(len(SIZES) - 1):
                Z = A @ params[2 * layer] + params[2 * layer + 1]
                A = torch.relu(Z) if layer < len(SIZES) - 2 else Z
            loss = -(Y * torch.log_softmax(A, dim=1)).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            raw = [p.grad.clone() for p in params]
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, clip_norm)
            if clip_value is not None:
                torch.nn.utils.clip_grad_value_(params, clip_value)
            bound += any(not torch.equal(r, p.grad) for r, p in zip(raw, params))
            opt.step()
            if sched is not None:
                sched.step()
    return [p.detach().numpy() for p in params], bound


def lambda_lr(schedule, base):
    """torch's LambdaLR running a bpx schedule: the factor of step s + 1 over the optimizer's base rate."""
    return lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s + 1) / base)


T = dict(foreach=False)
CASES = {
    "sgd": (lambda: bpx.SGD(0.1), lambda g: torch.optim.SGD(g, lr=0.1), None),
    "sgd-momentum-decay": (lambda: bpx.SGD(0.05, momentum=0.9, weight_decay=1e-2),
                           lambda g: torch.optim.SGD(g, lr=0.05, momentum=0.9, weight_decay=1e-2, **T), None),
    "sgd-step": (lambda: bpx.SGD(schedules.Step(0.2, step_size=30, gamma=0.5)),
                 lambda g: torch.optim.SGD(g, lr=0.2),
                 lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=30, gamma=0.5)),
    "sgd-invscaling": (lambda: bpx.SGD(schedules.InverseScaling(0.3, power_t=0.5)),
                       lambda g: torch.optim.SGD(g, lr=0.3), lambda_lr(schedules.InverseScaling(0.3, 0.5), 0.3)),
    "sgd-callable": (lambda: bpx.SGD(lambda t: 0.1 / (1 + 0.01 * t)), lambda g: torch.optim.SGD(g, lr=0.1),
                     lambda_lr(lambda t: 0.1 / (1 + 0.01 * t), 0.1)),
    "adam-decay": (lambda: bpx.Adam(0.01, weight_decay=1e-2),
                   lambda g: torch.optim.Adam(g, lr=0.01, weight_decay=1e-2, **T), None),
    "adam-multistep": (lambda: bpx.Adam(schedules.MultiStep(0.02, [50, 120], gamma=0.3)),
                       lambda g: torch.optim.Adam(g, lr=0.02, **T),
                       lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [50, 120], gamma=0.3)),
    "adamw": (lambda: bpx.AdamW(0.01, weight_decay=0.1),
              lambda g: torch.optim.AdamW(g, lr=0.01, weight_decay=0.1, **T), None),
    "adamw-defaults": (lambda: bpx.AdamW(), lambda g: torch.optim.AdamW(g, **T), None),
    "adamw-cosine": (lambda: bpx.AdamW(schedules.Cosine(0.02, total_steps=STEPS, warmup=20, min_lr=1e-4),
                                       beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.05),
                     lambda g: torch.optim.AdamW(g, lr=0.02, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.05, **T),
                     lambda_lr(schedules.Cosine(0.02, total_steps=STEPS, warmup=20, min_lr=1e-4), 0.02)),
    "adamw-onecycle": (lambda: bpx.AdamW(schedules.OneCycle(0.05, total_steps=STEPS)),
                       lambda g: torch.optim.AdamW(g, lr=0.05, **T),
                       lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=STEPS,
                                                                     cycle_momentum=False)),
    "rmsprop": (lambda: bpx.RMSprop(0.005), lambda g: torch.optim.RMSprop(g, lr=0.005, **T), None),
    "rmsprop-centered-momentum-decay": (
        lambda: bpx.RMSprop(0.003, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.01),
        lambda g: torch.optim.RMSprop(g, lr=0.003, alpha=0.9, eps=1e-6, momentum=0.5, centered=True,
                                      weight_decay=0.01, **T), None),
    "rmsprop-exponential": (lambda: bpx.RMSprop(schedules.Exponential(0.01, gamma=0.99), momentum=0.3),
                            lambda g: torch.optim.RMSprop(g, lr=0.01, momentum=0.3, **T),
                            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.99)),
    "adagrad": (lambda: bpx.Adagrad(0.1), lambda g: torch.optim.Adagrad(g, lr=0.1, **T), None),
    "adagrad-all": (lambda: bpx.Adagrad(0.1, lr_decay=0.01, eps=1e-8, initial_accumulator_value=0.1, weight_decay=0.02),
                    lambda g: torch.optim.Adagrad(g, lr=0.1, lr_decay=0.01, eps=1e-8, initial_accumulator_value=0.1,
                                                  weight_decay=0.02, **T), None),
}
CLIPPED = {
    "sgd-clip-norm": (lambda: bpx.SGD(0.2, clip_norm=0.3), lambda g: torch.optim.SGD(g, lr=0.2), None,
                      dict(clip_norm=0.3)),
    "adam-clip-norm-schedule": (lambda: bpx.Adam(schedules.Cosine(0.02, STEPS, warmup=10), clip_norm=0.2),
                                lambda g: torch.optim.Adam(g, lr=0.02, **T),
                                lambda_lr(schedules.Cosine(0.02, STEPS, warmup=10), 0.02), dict(clip_norm=0.2)),
    "rmsprop-clip-value": (lambda: bpx.RMSprop(0.005, clip_value=0.05), lambda g: torch.optim.RMSprop(g, lr=0.005, **T),
                           None, dict(clip_value=0.05)),
    "adagrad-clip-both": (lambda: bpx.Adagrad(0.1, clip_norm=0.5, clip_value=0.1),
                          lambda g: torch.optim.Adagrad(g, lr=0.1, **T), None, dict(clip_norm=0.5, clip_value=0.1)),
    "adamw-clip-norm": (lambda: bpx.AdamW(0.01, clip_norm=0.25), lambda g: torch.optim.AdamW(g, lr=0.01, **T), None,
                        dict(clip_norm=0.25)),
}
ALL = {**{k: v + ({},) for k, v in CASES.items()}, **CLIPPED}


@pytest.mark.parametrize("case", list(ALL))
def test_200_steps_follow_torch_optim(backend, float64, to_input, case):
    make, make_torch, make_sched, clip = ALL[case]
    X, y = data()
    net = bpx.MLP(SIZES, backend=backend, dtype="float64", seed=3)
    start = [bpx.to_numpy(p) for p in net.params]
    opt = make()
    net.fit(to_input(X), to_input(y), epochs=EPOCHS, batch_size=BATCH, shuffle=False, optimizer=opt, verbose=0)
    assert opt.t == STEPS
    expected, bound = torch_trajectory(start, X, y, make_torch, make_sched, **clip)
    assert bound > (STEPS // 10 if clip else -1)  # the clipped cases clip often
    for got, want in zip([bpx.to_numpy(p) for p in net.params], expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    moved = max(float(np.max(np.abs(w - s))) for w, s in zip(expected, start))
    assert moved > 1e-2  # the test follows a trajectory that goes somewhere

