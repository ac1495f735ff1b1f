"""What the training loop writes into a checkpoint (bpx/training/_loop.py): the callbacks' keys, the
identity a resume must match, the position of a run stopped inside an epoch, and that resuming from it
ends exactly where an uninterrupted run ends. Written against the mutants that survived the mutation run
(docs/development/mutation.md).
"""

import numpy as np
import pytest

import bpx
from bpx.training import STOP
from bpx.training._checkpoint import CheckpointError, read


class Tagged(bpx.Callback):
    def __init__(self, tag):
        self.tag = tag

    def state_dict(self):
        return {"tag": self.tag}

    def load_state_dict(self, state):
        self.tag = state["tag"]


class Other(Tagged):
    pass


def data(to_input):
    rng = np.random.default_rng(0)
    return to_input(rng.normal(size=(12, 3))), to_input(np.arange(12) % 2)


def test_the_checkpoint_keys_each_callback_by_its_class_and_repeat(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"
    cbs = [Tagged("a"), Other("b"), Tagged("c"), Tagged("d"), Other("e")]
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=path, callbacks=cbs)
    assert read(path)[1]["callbacks"] == [
        {"type": "Tagged", "state": {"tag": "a"}}, {"type": "Other", "state": {"tag": "b"}},
        {"type": "Tagged#2", "state": {"tag": "c"}}, {"type": "Tagged#3", "state": {"tag": "d"}},
        {"type": "Other#2", "state": {"tag": "e"}}]
    # a resume gives each state back to the callback of the same key
    fresh = [Tagged(None), Other(None), Tagged(None), Tagged(None), Other(None)]
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=path, callbacks=fresh, resume=True)
    assert [cb.tag for cb in fresh] == ["a", "b", "c", "d", "e"]


def test_the_identity_holds_the_precision_and_the_settings(tmp_path, backend, to_input):
    X, y = data(to_input)
    try:  # mixed precision where the backend offers it (torch, jax); the default (None) elsewhere
        net, precision = bpx.MLP([3, 4, 2], backend=backend, seed=0, precision="bf16"), "bf16"
    except ValueError:
        net, precision = bpx.MLP([3, 4, 2], backend=backend, seed=0), None
    path = tmp_path / "run.ckpt"
    net.fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0, checkpoint=path)
    identity = read(path)[0]
    assert identity["precision"] == precision and identity["dtype"] == "float32"
    assert identity["architecture"] == {"activation": "relu", "bias": True, "dropout": [0.0], "layer_sizes": [3, 4, 2],
                                        "loss": "cross_entropy", "output": "softmax"}
    assert (identity["batch_size"], identity["rows"], identity["optimizer"]) == (4, 12, repr(bpx.SGD(lr=0.1)))


def test_a_resume_with_another_optimizer_setting_is_refused(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=path)
    with pytest.raises(CheckpointError, match=r"optimizer differs \(checkpoint 'SGD\(.*lr=0\.1.*this fit 'SGD\(.*lr=0\.2"):
        bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, batch_size=4, optimizer=bpx.SGD(lr=0.2),
                                                         verbose=0, checkpoint=path, resume=True)


class StopInside(bpx.Callback):
    """Asks for a stop after the second step of epoch 2 (as Ctrl-C does)."""

    epoch = 0

    def on_epoch_begin(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if self.epoch == 2 and batch == 1:
            STOP.request("test")


def test_a_run_stopped_inside_an_epoch_resumes_to_the_same_numbers(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"

    def fit(net, callbacks=(), **kwargs):
        return net.fit(X, y, epochs=3, batch_size=4, optimizer=bpx.SGD(lr=0.1, momentum=0.9), verbose=0,
                       callbacks=list(callbacks), **kwargs)

    try:
        stopped = fit(bpx.MLP([3, 4, 2], backend=backend, seed=0), [StopInside()], checkpoint=path)
    finally:
        STOP.signal = None
    identity, state = read(path)
    assert stopped.interrupted == "test" and state["finished"] is False
    if identity["engine"] == "eager":  # stopped after a step: the position inside epoch 2
        assert state["epoch"] == 1
        position = state["position"]
        assert sorted(position) == ["correct", "costs", "next", "rng", "start"]
        assert position["next"] == 8 and len(position["costs"]) == 2  # two steps of 4 rows
        assert all(isinstance(a, np.ndarray) for a in position["start"])
    resumed_net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    resumed = fit(resumed_net, checkpoint=path, resume=True)
    reference_net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    reference = fit(reference_net)
    assert resumed["loss"] == reference["loss"] and len(resumed["loss"]) == 3
    for a, b in zip(resumed_net.params, reference_net.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))


def test_lbfgs_reports_the_epochs_it_was_given(backend, to_input):
    X, y = data(to_input)
    opt = bpx.LBFGS()
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, optimizer=opt, verbose=0)
    assert opt.n_iter == 2 and opt.message == "reached epochs=2 iterations"


def overflowing(backend, xp):
    """A network whose parameters are finite but whose every float32 cost overflows, and their host copies."""
    net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    net.params = [xp.full_like(p, 1e30) for p in net.params]
    return net, [bpx.to_numpy(p) for p in net.params]


def test_lbfgs_refuses_to_start_from_a_non_finite_cost_and_restores_the_parameters(backend, xp, to_input):
    X, y = data(to_input)
    net, before = overflowing(backend, xp)
    with pytest.raises(bpx.errors.TrainingDivergedError) as info:
        net.fit(X, y, epochs=2, optimizer=bpx.LBFGS(), verbose=0)
    assert str(info.value) == ("the cost at the starting parameters is NaN or infinite; L-BFGS cannot start "
                               "(the parameters were restored)")
    for a, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(a), b)


def test_a_shuffled_fit_visits_other_batches_than_an_unshuffled_one(backend, to_input):
    X, y = data(to_input)

    def params(shuffle):
        net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
        net.fit(X, y, epochs=2, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0, shuffle=shuffle)
        return [bpx.to_numpy(p) for p in net.params]

    shuffled, again, ordered = params(True), params(True), params(False)
    assert all(np.array_equal(a, b) for a, b in zip(shuffled, again))  # the seed fixes the order
    assert not all(np.array_equal(a, b) for a, b in zip(shuffled, ordered))


def test_a_diverged_mini_batch_run_names_the_first_bad_batch_and_restores_the_parameters(backend, xp, to_input):
    X, y = data(to_input)
    net, before = overflowing(backend, xp)
    with pytest.raises(bpx.errors.TrainingDivergedError) as info:
        net.fit(X, y, epochs=2, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0)
    assert str(info.value) == (
        "training diverged in epoch 1, batch 1 of 3 (batch_size 4): the loss or a parameter became NaN or infinite. "
        "The parameters from the end of epoch 0 were restored; try a smaller learning rate.")
    for a, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(a), b)


class Poison(bpx.Callback):
    """After the last batch, makes one weight infinite (the epoch's per-batch losses stay finite)."""

    def __init__(self, batches):
        self.batches = batches

    def on_batch_end(self, batch, logs):
        if batch == self.batches - 1:
            params = list(self.model.params)
            params[0] = params[0] * float("inf")
            self.model.params = params


def test_a_parameter_that_the_last_step_made_infinite_is_a_divergence_at_the_last_batch(backend, to_input):
    """Finite losses but an infinite parameter: the loop still stops, names the last batch (no batch's
    cost was the first non-finite one) and gives back the epoch's starting parameters."""
    if backend.library.compiled or backend.library.lazy:
        pytest.skip("the compiled and Dask epochs take no parameter change from a callback between steps")
    X, y = data(to_input)
    net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    net.fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0)
    before = [backend.to_numpy(p).copy() for p in net.params]
    with pytest.raises(bpx.TrainingDiverged, match=r"in epoch 1, batch 3 of 3 \(batch_size 4\)"):
        net.fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0, callbacks=[Poison(3)])
    assert all(np.array_equal(backend.to_numpy(p), b) for p, b in zip(net.params, before))


def test_a_regression_history_has_no_accuracy(backend, to_input):
    X, _ = data(to_input)
    Y = to_input(np.linspace(-1, 1, 12).reshape(12, 1))
    h = bpx.MLP([3, 4, 1], output="identity", loss="mse", backend=backend, seed=0).fit(
        X, Y, epochs=2, batch_size=4, optimizer=bpx.SGD(lr=0.1), verbose=0, validation_data=(X, Y))
    assert h.accuracy == [] and h.val_accuracy == [] and "accuracy" not in h.as_dict()
    assert len(h.loss) == len(h.val_loss) == 2 and np.all(np.isfinite(h.loss + h.val_loss))


def test_a_run_stopped_twice_inside_one_epoch_resumes_to_the_uninterrupted_numbers(tmp_path, backend, to_input):
    """The second stop inside the same (resumed) epoch writes the epoch's starting parameters again."""
    X, y = data(to_input)
    opt = lambda: bpx.Adam(lr=0.01)  # noqa: E731

    def run(**kwargs):
        net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
        h = net.fit(X, y, epochs=2, batch_size=2, optimizer=opt(), verbose=0, **kwargs)
        return net, h

    ref, _ = run()
    path = tmp_path / "run.ckpt"

    class StopAt(bpx.Callback):
        def __init__(self, at):
            self.at, self.epoch = at, 0

        def on_epoch_begin(self, epoch):
            self.epoch = epoch

        def on_batch_end(self, batch, logs):
            if (self.epoch, batch) == self.at:
                STOP.request("SIGINT")

    try:  # eager engines stop after the step; compiled and Dask ones at the end of the epoch
        run(checkpoint=path, callbacks=[StopAt((2, 1))])
        STOP.signal = None
        run(checkpoint=path, resume=True, callbacks=[StopAt((2, 3))])
    finally:
        STOP.signal = None
    net, h3 = run(checkpoint=path, resume=True)
    assert h3.interrupted is None and len(h3) == 2
    for p, q in zip(net.params, ref.params):
        assert np.array_equal(backend.to_numpy(p), backend.to_numpy(q))


def test_the_epochs_numbers_are_the_evaluated_loss_and_accuracy(backend, to_input):
    """With a learning rate too small to move a float32 weight, the epoch's training loss and accuracy are
    those of the network before and after it, and its validation numbers are evaluate's."""
    X, y = data(to_input)
    Xv = to_input(np.random.default_rng(1).normal(size=(6, 3)))
    yv = to_input(np.array([1, 0, 0, 1, 1, 1]))
    net = bpx.MLP([3, 5, 2], backend=backend, seed=3)
    before = net.evaluate(X, y)
    h = net.fit(X, y, epochs=1, batch_size=4, optimizer=bpx.SGD(lr=1e-30), verbose=0, shuffle=False,
                validation_data=(Xv, yv))
    after = net.evaluate(Xv, yv)
    assert h.accuracy[0] == pytest.approx(before["accuracy"]) and 0 < h.accuracy[0] < 1
    assert h.loss[0] == pytest.approx(before["loss"], rel=1e-5)
    assert h.val_loss[0] == pytest.approx(after["loss"], rel=1e-5)
    assert h.val_accuracy[0] == pytest.approx(after["accuracy"]) and 0 < h.val_accuracy[0] < 1
