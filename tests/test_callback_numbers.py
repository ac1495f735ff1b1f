"""The callbacks' numbers: which epochs ModelCheckpoint writes (every, best, monitor, mode, keep), the
state a resume restores, and the exact messages of the monitoring checks (bpx/callbacks/_callback.py,
_model_checkpoint.py). Written against the mutants that survived the mutation run
(docs/development/mutation.md). The epochs' logs are given by hand, so the expected files are exact.
"""

import functools
import os

import numpy as np
import pytest

import bpx
from bpx.callbacks._callback import FunctionCallback, monitored_value, resolve_monitor


def logs(loss=0.5, accuracy=0.5, val_loss=None, val_accuracy=None):
    return {"loss": loss, "accuracy": accuracy, "val_loss": val_loss, "val_accuracy": val_accuracy}


def run(cb, backend, entries, start=1):
    """Call ``on_epoch_end`` for epochs start, start + 1, ... with ``entries``; the files of its folder, sorted."""
    cb.model = bpx.MLP([2, 2], backend=backend, seed=0)
    for epoch, entry in enumerate(entries, start=start):
        assert cb.on_epoch_end(epoch, entry) is False
    folder = os.path.dirname(cb.path)
    return sorted(f for f in os.listdir(folder) if f.endswith(".npz"))


def test_model_checkpoint_saves_every_epoch_by_default(tmp_path, backend):
    cb = bpx.ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"))
    assert (cb.every, cb.best, cb.keep) == (1, False, None)
    worse = [logs(loss=v) for v in (0.3, 0.4, 0.5)]  # getting worse: a best-only default would save once
    assert run(cb, backend, worse) == ["m-1.npz", "m-2.npz", "m-3.npz"]
    assert cb.saved == [str(tmp_path / f"m-{e}.npz") for e in (1, 2, 3)]


def test_model_checkpoint_saves_every_few_epochs(tmp_path, backend):
    cb = bpx.ModelCheckpoint(str(tmp_path / "m-{epoch:03d}.npz"), every=2)
    assert cb.every == 2 and repr(cb) == f"ModelCheckpoint({cb.path!r}, every=2, best=False, keep=None)"
    assert run(cb, backend, [logs()] * 5) == ["m-002.npz", "m-004.npz"]


def test_model_checkpoint_best_only_saves_improvements(tmp_path, backend):
    cb = bpx.ModelCheckpoint(str(tmp_path / "b-{epoch}.npz"), best=True)
    assert (cb.every, cb.best) == (None, True)
    entries = [logs(val_loss=v) for v in (0.5, 0.4, 0.4, 0.6, 0.3)]  # auto: val_loss, lower is better
    assert run(cb, backend, entries) == ["b-1.npz", "b-2.npz", "b-5.npz"]
    assert cb.best_value == 0.3
    assert cb.state_dict() == {"best_value": 0.3, "saved": [str(tmp_path / f"b-{e}.npz") for e in (1, 2, 5)]}


def test_model_checkpoint_best_follows_monitor_and_mode(tmp_path, backend):
    for sub in "alvt":
        (tmp_path / sub).mkdir()
    cb = bpx.ModelCheckpoint(str(tmp_path / "a" / "a-{epoch}.npz"), best=True, monitor="accuracy")
    entries = [logs(accuracy=v, val_loss=1.0) for v in (0.5, 0.7, 0.7, 0.6, 0.8)]  # accuracy: higher is better
    assert run(cb, backend, entries) == ["a-1.npz", "a-2.npz", "a-5.npz"]
    cb = bpx.ModelCheckpoint(str(tmp_path / "l" / "l-{epoch}.npz"), best=True, monitor="loss", mode="max")
    entries = [logs(loss=v) for v in (0.5, 0.4, 0.6, 0.6)]
    assert run(cb, backend, entries) == ["l-1.npz", "l-3.npz"]
    cb = bpx.ModelCheckpoint(str(tmp_path / "v" / "v-{epoch}.npz"), best=True, monitor="val_accuracy", mode="min")
    entries = [logs(val_accuracy=v) for v in (0.5, 0.6, 0.4)]
    assert run(cb, backend, entries) == ["v-1.npz", "v-3.npz"]
    cb = bpx.ModelCheckpoint(str(tmp_path / "t" / "t-{epoch}.npz"), best=True)  # auto without validation: loss
    assert run(cb, backend, [logs(loss=v) for v in (0.5, 0.6, 0.4)]) == ["t-1.npz", "t-3.npz"]


def test_model_checkpoint_keeps_the_last_files(tmp_path, backend):
    cb = bpx.ModelCheckpoint(str(tmp_path / "k-{epoch}.npz"), every=1, keep=2)
    assert run(cb, backend, [logs()] * 4) == ["k-3.npz", "k-4.npz"]
    cb = bpx.ModelCheckpoint(str(tmp_path / "k-{epoch}.npz"), every=1, keep=1)
    cb.load_state_dict({"best_value": None, "saved": [str(tmp_path / "gone.npz")]})  # a file already deleted
    assert run(cb, backend, [logs()]) == ["k-1.npz", "k-3.npz", "k-4.npz"]


def test_model_checkpoint_state_round_trips(tmp_path, backend):
    cb = bpx.ModelCheckpoint(str(tmp_path / "r-{epoch}.npz"), best=True, keep=3)
    run(cb, backend, [logs(loss=v) for v in (0.5, 0.4)])
    state = cb.state_dict()
    assert state == {"best_value": 0.4, "saved": [str(tmp_path / "r-1.npz"), str(tmp_path / "r-2.npz")]}
    again = bpx.ModelCheckpoint(str(tmp_path / "r-{epoch}.npz"), best=True, keep=3)
    again.load_state_dict(state)
    state["saved"].append("not kept")  # the callback holds its own list
    assert (again.best_value, again.saved) == (0.4, [str(tmp_path / "r-1.npz"), str(tmp_path / "r-2.npz")])
    assert run(again, backend, [logs(loss=0.45), logs(loss=0.3)], start=3) == ["r-1.npz", "r-2.npz", "r-4.npz"]


def test_model_checkpoint_resumes_its_best_value(tmp_path, backend, to_input):
    X = to_input(np.random.default_rng(0).normal(size=(16, 2)))
    y = to_input(np.arange(16) % 2)
    ckpt = str(tmp_path / "run.ckpt")
    first = bpx.ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"), best=True, monitor="loss")
    bpx.MLP([2, 3, 2], backend=backend, seed=0).fit(X, y, epochs=2, batch_size=8, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=ckpt, callbacks=[first])
    second = bpx.ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"), best=True, monitor="loss")
    bpx.MLP([2, 3, 2], backend=backend, seed=0).fit(X, y, epochs=2, batch_size=8, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=ckpt, callbacks=[second], resume=True)
    assert second.best_value == first.best_value and second.saved == first.saved


@pytest.mark.parametrize("kwargs, error, message", [
    ({"path": 3}, TypeError, "ModelCheckpoint: path must be a str or os.PathLike, got int"),
    ({"every": 0}, ValueError, "every must be an integer >= 1, got 0"),
    ({"every": 1.5}, TypeError, "every must be an integer >= 1, got 1.5 (float)"),
    ({"keep": 0}, ValueError, "keep must be an integer >= 1, got 0"),
    ({"monitor": "acc"}, ValueError,
     "ModelCheckpoint: monitor must be 'loss', 'accuracy', 'val_loss', 'val_accuracy' or 'auto', got 'acc'"),
    ({"monitor": 3}, ValueError,
     "ModelCheckpoint: monitor must be 'loss', 'accuracy', 'val_loss', 'val_accuracy' or 'auto', got 3"),
    ({"mode": "up"}, ValueError, "ModelCheckpoint: mode must be 'min', 'max' or 'auto', got 'up'"),
])
def test_model_checkpoint_names_a_bad_argument(tmp_path, kwargs, error, message):
    kwargs = {"path": str(tmp_path / "m.npz"), **kwargs}
    with pytest.raises(error) as info:
        bpx.ModelCheckpoint(**kwargs)
    assert str(info.value) == message


def test_model_checkpoint_checks_the_path_without_its_braces(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=r"^ModelCheckpoint: path: .*sub'? is a directory"):
        bpx.ModelCheckpoint(str(tmp_path / "sub{}"))
    with pytest.raises(ValueError, match=r"^ModelCheckpoint: path: the folder of .*nowhere.* does not exist"):
        bpx.ModelCheckpoint(str(tmp_path / "nowhere" / "m-{epoch}.npz"))


@pytest.mark.parametrize("monitor", ["loss", "accuracy", "val_loss", "val_accuracy", "auto"])
@pytest.mark.parametrize("mode", ["min", "max", "auto"])
def test_every_documented_monitor_and_mode_is_accepted(tmp_path, monitor, mode):
    cb = bpx.ModelCheckpoint(str(tmp_path / "m.npz"), best=True, monitor=monitor, mode=mode)
    assert (cb.monitor, cb.mode) == (monitor, mode)


@pytest.mark.parametrize("monitor, mode, entry, resolved", [
    ("auto", "auto", logs(val_loss=0.3), ("val_loss", "min")),
    ("auto", "auto", logs(), ("loss", "min")),
    ("auto", "max", logs(), ("loss", "max")),
    ("accuracy", "auto", logs(), ("accuracy", "max")),
    ("val_accuracy", "auto", logs(), ("val_accuracy", "max")),
    ("val_accuracy", "min", logs(), ("val_accuracy", "min")),
])
def test_resolve_monitor(monitor, mode, entry, resolved):
    assert resolve_monitor(monitor, mode, entry) == resolved


def test_a_monitored_value_that_is_not_measured_is_named(tmp_path, backend):
    assert monitored_value(logs(val_loss=0.25), "val_loss", "X") == 0.25
    with pytest.raises(ValueError) as info:
        monitored_value(logs(), "val_loss", "EarlyStopping")
    assert str(info.value) == ("EarlyStopping: monitor='val_loss' is not measured in this fit (it has loss, accuracy); "
                               "pass validation data to monitor val_loss")
    cb = bpx.ModelCheckpoint(str(tmp_path / "m.npz"), best=True, monitor="val_accuracy")
    with pytest.raises(ValueError, match=r"^ModelCheckpoint: monitor='val_accuracy' is not measured"):
        run(cb, backend, [logs()])


def test_a_function_callback_gets_the_epoch_and_its_logs():
    seen = []
    cb = FunctionCallback(lambda epoch, entry: seen.append((epoch, entry)) or epoch == 2)
    assert cb.on_epoch_end(1, logs(loss=0.7)) is False and cb.on_epoch_end(2, logs(loss=0.6)) is True
    assert seen == [(1, logs(loss=0.7)), (2, logs(loss=0.6))]


def test_a_function_callbacks_repr_names_the_function():
    def stop_at_ten(epoch, entry):
        return epoch >= 10

    assert repr(FunctionCallback(stop_at_ten)) == "FunctionCallback('stop_at_ten')"
    partial = functools.partial(stop_at_ten)
    assert repr(FunctionCallback(partial)) == f"FunctionCallback({partial!r})"


@pytest.mark.parametrize("callbacks, message", [
    (print, "callbacks must be a list of bpx.Callback objects or functions f(epoch, logs), got "
            "builtin_function_or_method; wrap one in a list"),
    (bpx.EarlyStopping(2), "callbacks must be a list of bpx.Callback objects or functions f(epoch, logs), got "
                           "EarlyStopping; wrap one in a list"),
    ("ab", "callbacks must be a list of bpx.Callback objects or functions f(epoch, logs), got str; wrap one in a list"),
    ([print, 3], "callbacks[1] must be a bpx.Callback or a function f(epoch, logs), got int"),
], ids=["a-function", "a-callback", "a-string", "a-bad-item"])
def test_fit_refuses_callbacks_that_are_not_a_list_naming_the_type(backend, callbacks, message):
    net = bpx.MLP([2, 2], backend=backend, seed=0)
    before = [bpx.to_numpy(p).copy() for p in net.params]
    with pytest.raises(TypeError) as refused:
        net.fit(np.ones((4, 2)), np.array([0, 1, 0, 1]), epochs=1, verbose=0, callbacks=callbacks)
    assert str(refused.value) == message
    for a, b in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(a), b)
