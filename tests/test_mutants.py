"""Tests that pin a number where a mutant survived the rest of the suite (docs/development/mutation.md):
each one fails when the named line of the training loop, a callback or the checkpoint is mutated."""

import json
import math

import numpy as np
import pytest

import bpx
from bpx.training import _checkpoint as ckpt


def problem(m=30, n=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int) % k


@pytest.mark.parametrize("optimizer", ["sgd", "lbfgs"])
def test_val_accuracy_is_the_share_of_validation_rows(backend, to_input, optimizer):
    """val_accuracy divides the correct count by the validation rows (7), not the columns (4)."""
    X, y = problem()
    Xv, yv = problem(7, seed=1)
    net = bpx.MLP([4, 5, 3], backend=backend, seed=0)
    opt = bpx.LBFGS() if optimizer == "lbfgs" else bpx.SGD(lr=0.1)
    h = net.fit(to_input(X), y, epochs=2, batch_size=None if optimizer == "lbfgs" else 10, optimizer=opt,
                validation_data=(to_input(Xv), yv), verbose=0)
    predicted = np.asarray(bpx.to_numpy(net.predict_proba(to_input(Xv)))).argmax(axis=1)
    assert h.val_accuracy[-1] == pytest.approx(np.mean(predicted == yv), abs=1e-12)
    assert 0 <= h.val_accuracy[-1] <= 1 and h.val_accuracy[-1] * 7 == pytest.approx(round(h.val_accuracy[-1] * 7))


def test_the_checkpoint_encoder_marks_only_non_finite_floats():
    arrays = []
    packed = ckpt.pack({"finite": 0.5, "nan": float("nan"), "inf": -math.inf, "a": np.arange(3)}, arrays)
    assert packed == {"finite": 0.5, "nan": {"__float__": "nan"}, "inf": {"__float__": "-inf"}, "a": {"__array__": 0}}
    json.dumps(packed, allow_nan=False)  # strict JSON: no bare NaN
    back = ckpt.unpack(packed, arrays)
    assert back["finite"] == 0.5 and math.isnan(back["nan"]) and back["inf"] == -math.inf


def test_a_run_that_lbfgs_finds_converged_is_checkpointed_as_finished(tmp_path):
    """L-BFGS converged at its start (a huge tol): no epoch runs, and the checkpoint says finished, so a
    resume does nothing."""
    X, y = problem()
    path = tmp_path / "run.ckpt"
    net = bpx.MLP([4, 5, 3], backend="numpy", seed=0)
    h = net.fit(X, y, epochs=5, optimizer=bpx.LBFGS(tol=1e6), verbose=0, checkpoint=path)
    assert len(h) == 0
    _, state = ckpt.read(path)
    assert state["finished"] is True and state["epoch"] == 0
    again = bpx.MLP([4, 5, 3], backend="numpy", seed=0).fit(X, y, epochs=5, optimizer=bpx.LBFGS(tol=1e6), verbose=0,
                                                            checkpoint=path, resume=True)
    assert len(again) == 0


class _Optimizer:
    lr = 1.0


class _Model:
    optimizer = _Optimizer()


@pytest.mark.parametrize("cooldown,expected", [
    (0, [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]),
    (2, [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]),
])
def test_reduce_lr_on_plateau_waits_patience_then_cooldown(cooldown, expected):
    cb = bpx.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=cooldown, monitor="loss")
    cb.model = _Model()
    cb.model.optimizer = _Optimizer()
    cb.on_train_begin({})
    rates = []
    for epoch in range(1, 8):  # a plateau: the loss never improves after the first epoch
        cb.on_epoch_end(epoch, {"loss": 1.0})
        rates.append(cb.model.optimizer.lr)
    assert rates == expected


@pytest.mark.parametrize("stop_at", [None, 2])
def test_a_callback_returning_true_stops_the_run(stop_at):
    X, y = problem()
    net = bpx.MLP([4, 5, 3], backend="numpy", seed=0)
    h = net.fit(X, y, epochs=4, batch_size=10, verbose=0, callbacks=[lambda epoch, logs: epoch == stop_at])
    assert len(h) == (4 if stop_at is None else stop_at)


def test_lbfgs_reports_each_iteration_as_batch_zero_of_the_whole_data():
    X, y = problem()
    seen = []

    class Batches(bpx.Callback):
        def on_batch_end(self, batch, logs):
            seen.append((batch, logs["size"], logs["loss"]))

    h = bpx.MLP([4, 5, 3], backend="numpy", seed=0).fit(X, y, epochs=3, optimizer=bpx.LBFGS(), verbose=0,
                                                       callbacks=[Batches()])
    assert [(b, size) for b, size, _ in seen] == [(0, 30)] * len(h)
    assert [loss for _, _, loss in seen] == pytest.approx(h.loss, rel=1e-12)


def test_a_checkpoint_records_the_architecture_under_its_names(tmp_path):
    """The identity's keys are the file format: a checkpoint written by this bpx names them so."""
    X, y = problem()
    path = tmp_path / "run.ckpt"
    bpx.MLP([4, 5, 3], backend="numpy", seed=0).fit(X, y, epochs=1, batch_size=10, verbose=0, checkpoint=path)
    identity, _ = ckpt.read(path)
    assert identity["architecture"] == {"layer_sizes": [4, 5, 3], "activation": "relu", "output": "softmax",
                                        "loss": "cross_entropy", "bias": True, "dropout": [0.0]}
    assert (identity["batch_size"], identity["rows"], identity["engine"]) == (10, 30, "eager")


def test_another_engine_is_named_in_the_refusal():
    with pytest.raises(ckpt.CheckpointError, match=r"run: engine \(its batches and positions are its own\) differs "
                                                   r"\(checkpoint 'eager', this fit 'compiled'\); resume with the"):
        ckpt.check_identity("c.ckpt", {"engine": "eager", "rows": 3}, {"engine": "compiled", "rows": 3})


def test_callback_arguments_and_reprs():
    with pytest.raises(ValueError, match="min_delta must be a finite number"):
        bpx.ReduceLROnPlateau(min_delta=-1.0)

    def stop_early(epoch, logs):
        return False

    from bpx.callbacks._callback import FunctionCallback

    assert repr(FunctionCallback(stop_early)) == "FunctionCallback('stop_early')"


def test_clipping_one_gradient_keeps_its_dtype_and_values():
    """One array (grads[0] is the only one: the namespace comes from it), float32 kept (the factor is a
    float, never an object), and clip_gradients applies exactly the clips it is given."""
    from bpx.clipping import clip_by_global_norm, clip_by_value
    from bpx.optimizers._clipping import clip_gradients

    g = [np.array([3.0, 4.0], dtype=np.float32)]
    for clipped, expected in ((clip_by_global_norm(g, 1.0), [0.6, 0.8]), (clip_by_global_norm(g, 10.0), [3.0, 4.0]),
                              (clip_by_value(g, 3.5), [3.0, 3.5]), (clip_gradients(g, clip_norm=1.0), [0.6, 0.8]),
                              (clip_gradients(g, clip_value=3.5), [3.0, 3.5]), (clip_gradients(g), [3.0, 4.0])):
        assert len(clipped) == 1 and clipped[0].dtype == np.float32
        np.testing.assert_allclose(clipped[0], expected, rtol=1e-6)
