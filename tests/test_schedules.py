"""Learning-rate schedules: their values against torch.optim.lr_scheduler and by hand, argument checks,
and how an optimizer uses them."""

import math

import numpy as np
import pytest

import bpx
from bpx import schedules

N = 300


def torch_rates(make_sched, lr):
    """The rate torch's scheduler (stepped once per optimizer step) gives steps 1..N."""
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make_sched(opt, torch.optim.lr_scheduler)
    rates = []
    for _ in range(N):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("schedule,make_sched", [
    (schedules.Step(0.3, step_size=40, gamma=0.5), lambda o, s: s.StepLR(o, 40, gamma=0.5)),
    (schedules.MultiStep(0.3, [10, 100, 250], gamma=0.2), lambda o, s: s.MultiStepLR(o, [10, 100, 250], gamma=0.2)),
    (schedules.Exponential(0.3, gamma=0.98), lambda o, s: s.ExponentialLR(o, gamma=0.98)),
    (schedules.OneCycle(0.3, total_steps=N), lambda o, s: s.OneCycleLR(o, 0.3, total_steps=N, cycle_momentum=False)),
    (schedules.OneCycle(0.3, total_steps=N, pct_start=0.5, div_factor=10.0, final_div_factor=100.0, anneal="linear"),
     lambda o, s: s.OneCycleLR(o, 0.3, total_steps=N, pct_start=0.5, div_factor=10.0, final_div_factor=100.0,
                               anneal_strategy="linear", cycle_momentum=False)),
])
def test_schedules_give_torchs_rates(schedule, make_sched):
    lr = getattr(schedule, "lr", getattr(schedule, "max_lr", None))
    np.testing.assert_allclose([schedule(t) for t in range(1, N + 1)], torch_rates(make_sched, lr), rtol=1e-12)


def test_cosine_with_warmup_by_hand():
    s = schedules.Cosine(0.1, total_steps=110, warmup=10, min_lr=0.01)
    assert [s(t) for t in (1, 5, 10)] == [0.1 * 1 / 10, 0.1 * 5 / 10, 0.1]
    assert s(60) == pytest.approx(0.01 + 0.09 * 0.5, rel=1e-15)  # half way through the decay
    assert s(110) == s(500) == 0.01
    assert schedules.Cosine(0.1, total_steps=100)(1) == pytest.approx(0.05 * (1 + math.cos(math.pi / 100)), rel=1e-15)
    rates = [s(t) for t in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))


def test_inverse_scaling_and_constant_by_hand():
    s = schedules.InverseScaling(0.5, power_t=0.25)
    assert [s(1), s(16), s(81)] == [0.5, 0.25, 0.5 / 3]
    assert schedules.Constant(0.2)(7) == 0.2


def test_reprs_are_readable():
    assert repr(schedules.Cosine(0.1, 100, warmup=10)) == "Cosine(lr=0.1, total_steps=100, warmup=10, min_lr=0.0)"
    assert repr(bpx.AdamW(schedules.Step(0.01, 5))) == (
        "AdamW(weight_decay=0.01, inplace=None, lr=Step(lr=0.01, step_size=5, gamma=0.1), beta1=0.9, beta2=0.999, "
        "eps=1e-08)")
    assert "clip_norm=1.0" in repr(bpx.SGD(0.1, clip_norm=1.0))


@pytest.mark.parametrize("make,error,match", [
    (lambda: schedules.Step(0.1, 0), ValueError, "step_size"),
    (lambda: schedules.Step(0.1, 2.5), TypeError, "step_size"),
    (lambda: schedules.Step(-0.1, 2), ValueError, "lr"),
    (lambda: schedules.Exponential(0.1, gamma=1.5), ValueError, "gamma"),
    (lambda: schedules.MultiStep(0.1, [5, 3]), ValueError, "milestones"),
    (lambda: schedules.MultiStep(0.1, 5), TypeError, "milestones"),
    (lambda: schedules.InverseScaling(0.1, power_t=-1), ValueError, "power_t"),
    (lambda: schedules.Cosine(0.1, 10, warmup=10), ValueError, "warmup"),
    (lambda: schedules.Cosine(0.1, 10, min_lr=0.2), ValueError, "min_lr"),
    (lambda: schedules.OneCycle(0.1, 10, pct_start=1.0), ValueError, "pct_start"),
    (lambda: schedules.OneCycle(0.1, 10, anneal="exp"), ValueError, "anneal"),
    (lambda: schedules.Constant("0.1"), TypeError, "lr"),
    (lambda: schedules.Constant(0.1)(0), ValueError, "step count"),
    (lambda: bpx.Adam(lr="fast"), TypeError, "lr"),
    (lambda: bpx.SGD(lr=bpx.SGD), TypeError, "lr"),
])
def test_bad_arguments_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_schedule_returning_nonsense_is_refused_at_its_step(backend):
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    net = bpx.MLP([3, 2], backend=backend, seed=0)
    before = [bpx.to_numpy(p) for p in net.params]
    with pytest.raises(ValueError, match="returned nan at step 1"):
        net.fit(X, y, epochs=1, batch_size=2, optimizer=bpx.SGD(lambda t: float("nan")), verbose=0)
    for a, b in zip(before, net.params):
        np.testing.assert_array_equal(a, bpx.to_numpy(b))


def test_the_rate_is_a_per_step_coefficient():
    opt = bpx.Adam(schedules.Step(0.1, step_size=2, gamma=0.5))
    assert [opt.coefficients(t)[0] for t in (1, 2, 3)] == [0.1, 0.1, 0.05]
    assert opt.coefficients(3)[1:] == (1 - 0.9**3, 1 - 0.999**3)
    assert bpx.Adagrad(0.1, lr_decay=0.5).coefficients(3) == (0.1 / 2.0,)


def test_a_resumed_run_continues_the_schedule_bit_for_bit(backend, tmp_path):
    """The schedule's position is the optimizer's step count, which the checkpoint keeps: a run stopped
    after 3 epochs and resumed ends where the uninterrupted run ends (clipping on too)."""
    if backend.library.lazy:
        pytest.skip("dask: the loop's own resume tests cover the engine; this one trains eagerly in a few steps")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "run.ckpt"

    def run(epochs, checkpoint=True):
        net = bpx.MLP([4, 8, 2], backend=backend, seed=0)
        opt = bpx.AdamW(schedules.Cosine(0.05, total_steps=32, warmup=5), clip_norm=0.5)
        kw = dict(checkpoint=str(path), resume=True) if checkpoint else {}
        history = net.fit(X, y, epochs=epochs, batch_size=16, optimizer=opt, verbose=0, **kw)
        return net, history, opt

    run(3)
    net, history, opt = run(8)
    ref, ref_history, ref_opt = run(8, checkpoint=False)
    assert opt.t == ref_opt.t == 32
    assert history.loss == ref_history.loss
    for a, b in zip(net.params, ref.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
