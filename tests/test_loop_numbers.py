"""What the training loop writes into a checkpoint (bpx/training/_loop.py): the callbacks' keys, the
identity a resume must match, the position of a run stopped inside an epoch, and that resuming from it
ends exactly where an uninterrupted run ends; each bad argument of ``fit`` refused with its exact message, what
the callbacks are told, stop requests and resumes. Written against the mutants that survived the mutation runs
(docs/development/mutation.md, docs/development/mutation_equivalents_training.md).
"""

import inspect
import io
import sys

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


# -- the evening run's survivors (docs/development/mutation.md, "The evening run") ----------------------------

BAD_FIT_ARGUMENTS = [  # (fit's keyword arguments, the error, its exact message); "X"/"y": the training data
    ({"epochs": 0}, ValueError, "epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be an integer >= 1, got 0"),
    ({"shuffle": 1}, TypeError, "shuffle must be True or False, got 1"),
    ({"verbose": -1}, ValueError, "verbose must be an integer >= 0, got -1"),
    ({"validation_split": 1.0}, ValueError, "validation_split must be a finite number in [0.0, 1.0), got 1.0"),
    ({"validation_split": -0.1}, ValueError, "validation_split must be a finite number in [0.0, 1.0), got -0.1"),
    ({"validation_split": 1.5}, ValueError, "validation_split must be a finite number in [0.0, 1.0), got 1.5"),
    ({"early_stopping": 0}, ValueError, "early_stopping must be an integer >= 1, got 0"),
    ({"validation_data": ("X", "y"), "validation_split": 0.25}, ValueError,
     "give validation_data or validation_split, not both"),
    ({"validation_data": ("X",)}, TypeError, "validation_data must be a pair (X_val, Y_val)"),
    ({"checkpoint_every": 0}, ValueError, "checkpoint_every must be an integer >= 1, got 0"),
    ({"resume": 1}, TypeError, "resume must be True or False, got 1"),
    ({"resume": True}, ValueError, "resume=True needs checkpoint=PATH (the file to resume from)"),
    ({"checkpoint": "DIR"}, ValueError, "checkpoint: 'DIR' is a directory, not a file name (such as model.npz)"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_FIT_ARGUMENTS,
                         ids=["-".join(f"{k}={v!r}" for k, v in case[0].items()) for case in BAD_FIT_ARGUMENTS])
def test_fit_refuses_each_bad_argument_by_its_name_before_any_work(tmp_path, backend, to_input, kwargs, error, message):
    X, y = data(to_input)
    values = {"X": X, "y": y, "DIR": str(tmp_path)}
    kwargs = {k: tuple(values[v] for v in value) if isinstance(value, tuple) else values.get(value, value)
              if isinstance(value, str) else value for k, value in kwargs.items()}
    net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    before = [bpx.to_numpy(p).copy() for p in net.params]
    kwargs = {"verbose": 0, **kwargs}
    with pytest.raises(error) as refused:
        net.fit(X, y, epochs=kwargs.pop("epochs", 2), **kwargs)
    assert str(refused.value) == message.replace("DIR", str(tmp_path))
    assert net.optimizer is None and list(tmp_path.iterdir()) == []
    for a, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(a), b)


def test_fp16_refuses_an_optimizer_with_its_own_step(backend, to_input):
    try:
        net = bpx.MLP([3, 4, 2], backend=backend, seed=0, precision="fp16")
    except ValueError:
        pytest.skip(f"{backend.spec} has no fp16 (its refusal is tested in test_loss_scaling.py)")
    X, y = data(to_input)
    with pytest.raises(ValueError) as refused:
        net.fit(X, y, epochs=1, optimizer=bpx.LBFGS(), verbose=0)
    assert str(refused.value) == (
        "precision='fp16' trains with dynamic loss scaling inside bpx's functional step; LBFGS has its own step: "
        "use bpx.SGD, bpx.Adam, bpx.AdamW, bpx.RMSprop or bpx.Adagrad, or precision='bf16'")


class Watch(bpx.Callback):
    """Records the logs of on_train_begin/on_train_end, the parameters at each epoch's end and at the run's end."""

    def __init__(self):
        self.begin = self.end = None
        self.epoch_params, self.end_params = [], None

    def on_train_begin(self, logs=None):
        self.begin = logs

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_params.append([bpx.to_numpy(p).copy() for p in self.model.params])

    def on_train_end(self, logs=None):
        self.end, self.end_params = logs, [bpx.to_numpy(p).copy() for p in self.model.params]


def test_early_stopping_restores_the_best_parameters_before_the_users_callbacks_end(backend, to_input):
    X, y = data(to_input)
    watch = Watch()
    net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    history = net.fit(X, y, epochs=10, optimizer=bpx.SGD(lr=0.5), validation_data=(X, 1 - y), early_stopping=1,
                      verbose=0, callbacks=[watch])
    assert len(history) == 2 and history.best_epoch == 1 and history.stopped_early
    best, last = watch.epoch_params
    for seen, restored, b, z in zip(watch.end_params, net.params, best, last):
        np.testing.assert_array_equal(seen, b)  # the user's on_train_end sees the restored best epoch
        np.testing.assert_array_equal(bpx.to_numpy(restored), b)
        assert not np.array_equal(b, z)


def test_the_callbacks_are_told_the_runs_epochs_and_where_it_resumed(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"
    fresh, resumed = Watch(), Watch()
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, verbose=0, checkpoint=path, callbacks=[fresh])
    assert fresh.begin == fresh.end == {"epochs": 2, "resumed_from": None}
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=3, verbose=0, checkpoint=path, resume=True,
                                                     callbacks=[resumed])
    assert resumed.begin == resumed.end == {"epochs": 3, "resumed_from": 2}


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_resumed_runs_progress_bar_counts_on_from_the_checkpoint(tmp_path, monkeypatch, backend, to_input):
    pytest.importorskip("tqdm")
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, verbose=0, checkpoint=path)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=3, verbose=1, checkpoint=path, resume=True)
    shown = terminal.getvalue()
    assert "2/3" in shown and "3/3" in shown and "1/3" not in shown


def test_a_resumed_lbfgs_run_does_not_evaluate_its_starting_point_again(tmp_path, backend, float64):
    X, y = data(lambda a: a)
    path = tmp_path / "run.ckpt"
    whole, opt = bpx.MLP([3, 4, 2], backend=backend, seed=0, dtype=float64), bpx.LBFGS()
    whole.fit(X, y, epochs=4, optimizer=opt, verbose=0)
    bpx.MLP([3, 4, 2], backend=backend, seed=0, dtype=float64).fit(X, y, epochs=2, optimizer=bpx.LBFGS(), verbose=0,
                                                                   checkpoint=path)
    resumed_net, resumed = bpx.MLP([3, 4, 2], backend=backend, seed=0, dtype=float64), bpx.LBFGS()
    resumed_net.fit(X, y, epochs=4, optimizer=resumed, verbose=0, checkpoint=path, resume=True)
    assert (resumed.n_iter, resumed.n_fun) == (opt.n_iter, opt.n_fun) == (4, opt.n_fun)
    for a, b in zip(resumed_net.params, whole.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))


def test_a_finished_run_resumed_with_more_epochs_trains_no_further(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"

    def fit(epochs, **kwargs):
        net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
        history = net.fit(X, y, epochs=epochs, optimizer=bpx.SGD(lr=0.5), validation_data=(X, 1 - y),
                          early_stopping=1, verbose=0, checkpoint=path, **kwargs)
        return net, history

    stopped, first = fit(10)
    assert len(first) == 2 and first.stopped_early and read(path)[1]["finished"] is True
    again, second = fit(20, resume=True)
    assert len(second) == 2 and second.resumed_from == 2 and second["loss"] == first["loss"]
    for a, b in zip(again.params, stopped.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))


class StopAtTheEnd(bpx.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.model_epochs:
            STOP.request("test")


@pytest.mark.parametrize("stop_at, interrupted", [(2, None), (1, "test")], ids=["at-the-last-epoch", "before-it"])
def test_a_stop_request_is_an_interruption_only_before_the_last_epoch_and_is_consumed(backend, to_input, stop_at,
                                                                                        interrupted):
    X, y = data(to_input)
    stop = StopAtTheEnd()
    stop.model_epochs = stop_at
    try:
        history = bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, verbose=0, callbacks=[stop])
        assert len(history) == stop_at and history.interrupted == interrupted
        assert STOP.signal is None  # consumed by the run it stopped: the next run goes through all its epochs
        assert len(bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=3, verbose=0)) == 3
    finally:
        STOP.signal = None


def test_a_dask_X_trains_on_the_distributed_engine_whatever_the_backend(tmp_path):
    da = pytest.importorskip("dask.array")
    X, y = data(lambda a: a)
    path = tmp_path / "run.ckpt"
    bpx.MLP([3, 4, 2], backend="numpy", seed=0).fit(da.from_array(X, chunks=6), da.from_array(y, chunks=6), epochs=1,
                                                    verbose=0, checkpoint=path)
    assert read(path)[0]["engine"] == "distributed"


def test_a_checkpoint_of_more_epochs_is_refused_naming_its_file(tmp_path, backend, to_input):
    X, y = data(to_input)
    path = tmp_path / "run.ckpt"
    bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=3, verbose=0, checkpoint=path)
    with pytest.raises(CheckpointError) as refused:
        bpx.MLP([3, 4, 2], backend=backend, seed=0).fit(X, y, epochs=2, verbose=0, checkpoint=path, resume=True)
    assert str(refused.value) == (
        f"{path}: the checkpoint already holds 3 complete epochs, more than epochs=2; a resume goes on to epochs in "
        f"total: give epochs=3 or more (or another checkpoint path to start anew)")


def test_bpx_training_fit_has_mlp_fits_defaults(tmp_path, capsys, backend, to_input):
    """The loop's own defaults (it is public: ``bpx.training.fit``) are those of ``MLP.fit``."""
    X, y = data(to_input)
    assert [p.default for p in inspect.signature(bpx.training.fit).parameters.values()][3:] == \
        [p.default for p in inspect.signature(bpx.MLP.fit).parameters.values()][3:]
    for kwargs in ({}, {"batch_size": 4}):  # full batch, and shuffled mini-batches
        loop, model = bpx.MLP([3, 4, 2], backend=backend, seed=0), bpx.MLP([3, 4, 2], backend=backend, seed=0)
        by_loop = bpx.training.fit(loop, X, y, **kwargs)
        shown = capsys.readouterr()
        by_model = model.fit(X, y, **kwargs)
        assert capsys.readouterr() == shown
        assert len(by_loop) == 1 and by_loop["loss"] == by_model["loss"] and not by_loop.val_loss
        for a, b in zip(loop.params, model.params):
            np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
    unshuffled = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    bpx.training.fit(unshuffled, X, y, batch_size=4, shuffle=False)
    assert not all(np.array_equal(bpx.to_numpy(a), bpx.to_numpy(b)) for a, b in zip(unshuffled.params, loop.params))
    path = tmp_path / "run.ckpt"
    written = Written(path)  # a checkpoint after every epoch: the first one's is there when the second begins
    bpx.training.fit(bpx.MLP([3, 4, 2], backend=backend, seed=0), X, y, epochs=2, checkpoint=path, verbose=0,
                     callbacks=[written])
    assert written.seen == [False, True]


class Written(bpx.Callback):
    """Whether the checkpoint file exists as each epoch begins."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_epoch_begin(self, epoch):
        self.seen.append(self.path.exists())


def test_a_fit_without_a_checkpoint_reads_no_rows_back_for_a_fingerprint(tmp_path, monkeypatch, backend, to_input):
    """The identity's data fingerprints (a host copy of sampled rows; a compute on dask) are taken only for a
    checkpoint."""
    from bpx.training.engines import engine_for

    X, y = data(to_input)
    net = bpx.MLP([3, 4, 2], backend=backend, seed=0)
    engine = type(engine_for(net, X))
    reads = []

    def host_rows(self, arrays, rows):
        reads.append(len(rows))
        return original(self, arrays, rows)

    original = engine.host_rows
    monkeypatch.setattr(engine, "host_rows", host_rows)
    net.fit(X, y, epochs=2, verbose=0)
    assert reads == []
    net.fit(X, y, epochs=2, verbose=0, checkpoint=tmp_path / "run.ckpt")
    assert reads == [12]  # once per fit, never per epoch: the 12 rows of X, Y
