"""Each check of a checkpoint (bpx/training/_checkpoint.py) and the exact message a user reads.

A real checkpoint is written with ``fit(checkpoint=...)``; each case tampers one field (of the file, or of
the state ``read`` returns) and asserts the CheckpointError's path and reason. The cases were written
against the mutants that survived the mutation run (docs/development/mutation.md): each one fails when a
check is dropped, inverted or off by one, or when its message loses a number, a name or the path.
File-format tests: the network is trained on the numpy backend whatever the session's backend.
"""

import copy
import json
import re

import numpy as np
import pytest

import bpx
from bpx.optimizers._loss_scaling import GOOD, SCALE
from bpx.training._checkpoint import (
    MAX_ARRAYS,
    MAX_HEADER_BYTES,
    CheckpointError,
    check_identity,
    check_state,
    read,
)
from bpx.utils._atomic import digest

X = np.random.default_rng(0).normal(size=(12, 3))
Y = np.arange(12) % 2


def sgd():
    return bpx.SGD(lr=0.1, momentum=0.9)


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    bpx.MLP([3, 4, 2], backend="numpy", seed=0).fit(X, Y, epochs=2, batch_size=4, optimizer=sgd(), verbose=0,
                                                     checkpoint=path)
    return path


@pytest.fixture(scope="module")
def lbfgs(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "lbfgs.ckpt"
    bpx.MLP([3, 4, 2], backend="numpy", seed=0).fit(X, Y, epochs=2, optimizer=bpx.LBFGS(), verbose=0, checkpoint=path)
    return path


def members(path):
    with np.load(path, allow_pickle=False) as npz:
        m = {k: npz[k] for k in npz.files}
    return json.loads(m.pop("header").tobytes()), json.loads(m.pop("body").tobytes()), m


def rewrite(path, header, body, arrays, resign=True, header_blob=None, body_blob=None, drop=()):
    blob = np.frombuffer(json.dumps(body).encode(), np.uint8) if body_blob is None else body_blob
    if resign:
        header = dict(header, sha256=digest([arrays[f"a{k}"] for k in range(len(arrays))] + [blob]))
    meta = np.frombuffer(json.dumps(header).encode(), np.uint8) if header_blob is None else header_blob
    parts = {"header": meta, "body": blob, **arrays}
    with open(path, "wb") as f:  # np.savez would add .npz to the name
        np.savez(f, **{k: v for k, v in parts.items() if k not in drop})


def refused(path, reason, call=None):
    """The CheckpointError of ``read(path)`` (or ``call()``): its message is ``"<path>: <reason>"``."""
    with pytest.raises(CheckpointError) as info:
        (call or (lambda: read(path)))()
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert re.search(reason, message[len(str(path)) + 2:]), message
    return message[len(str(path)) + 2:]


# -- read: the file -------------------------------------------------------------------------------------------
def test_read_refuses_a_path_that_is_not_a_path():
    with pytest.raises(TypeError, match=r"^checkpoint must be a str or os.PathLike, got bytes$"):
        read(b"run.ckpt")
    with pytest.raises(TypeError, match=r"^checkpoint must be a str or os.PathLike, got int$"):
        read(3)


def test_read_names_a_file_that_is_not_an_archive(tmp_path):
    path = tmp_path / "text.ckpt"
    path.write_text("hello")
    refused(path, r"^not a bpx checkpoint \(not an \.npz archive")


@pytest.mark.parametrize("drop", ["header", "body"])
def test_read_needs_both_header_and_body(tmp_path, good, drop):
    path = tmp_path / "part.ckpt"
    rewrite(path, *members(good), drop=(drop,))
    assert refused(path, r"") == "not a bpx checkpoint (no header)"


def test_read_bounds_the_header_before_reading_it(tmp_path, good):
    header, body, arrays = members(good)
    path = tmp_path / "big.ckpt"
    rewrite(path, dict(header, pad="x" * (2 * MAX_HEADER_BYTES + 200)), body, arrays)
    refused(path, rf"^header of \d+ bytes exceeds the {MAX_HEADER_BYTES}-byte limit")
    rewrite(path, dict(header, pad="x" * MAX_HEADER_BYTES), body, arrays)
    refused(path, rf"^member 'header.npy' of shape \(\d+,\) is larger than its part of the file allows "
                  rf"\({MAX_HEADER_BYTES} bytes\)$")


def test_a_long_header_within_the_limit_and_beyond_the_arrays_limit_reads(tmp_path, good):
    header, body, arrays = members(good)
    path = tmp_path / "padded.ckpt"
    rewrite(path, dict(header, pad="x" * 4000), body, arrays)  # the arrays' limit (a few hundred bytes) is not the header's
    identity, state = read(path)
    assert identity == body["identity"] and state["epoch"] == 2


@pytest.mark.parametrize("part", ["header", "body"])
@pytest.mark.parametrize("blob, reason", [
    (np.frombuffer(b"{nope", np.uint8), r"\(Expecting property name"),
    (np.frombuffer(b"\xff\xfe", np.uint8), r"\('utf-8' codec can't decode"),
    (np.arange(4, dtype=np.int32), r"\(not UTF-8 JSON bytes\)"),
    (np.frombuffer(b"[]", np.uint8).reshape(1, 2), r"\(not UTF-8 JSON bytes\)"),
    (np.frombuffer(b"[" * 30000 + b"]" * 30000, np.uint8), r"\(nested too deeply\)"),
])
def test_read_names_a_malformed_header_or_body(tmp_path, good, part, blob, reason):
    header, body, arrays = members(good)
    path = tmp_path / "bad.ckpt"
    rewrite(path, header, body, arrays, resign=part == "header", **{f"{part}_blob": blob})
    refused(path, rf"^malformed {part} {reason}")


def test_read_refuses_a_header_of_another_kind(tmp_path, good):
    header, body, arrays = members(good)
    path = tmp_path / "kind.ckpt"
    rewrite(path, header, body, arrays, header_blob=np.frombuffer(b"[1, 2]", np.uint8))
    assert refused(path, "") == "not a bpx checkpoint"
    rewrite(path, dict(header, format="bpx.model"), body, arrays)
    assert refused(path, "") == "not a bpx checkpoint (format 'bpx.model'; a model file is loaded with bpx.load)"


@pytest.mark.parametrize("version", [0, -1, 2, True, "1", None, 1.0])
def test_read_refuses_another_format_version(tmp_path, good, version):
    header, body, arrays = members(good)
    path = tmp_path / "version.ckpt"
    rewrite(path, dict(header, format_version=version, bpx_version="9.9"), body, arrays)
    assert refused(path, "") == f"written in checkpoint format {version!r} by bpx 9.9; this bpx reads format 1"


@pytest.mark.parametrize("n_arrays", [-1, MAX_ARRAYS + 1, True, "3", None])
def test_read_refuses_a_malformed_array_count(tmp_path, good, n_arrays):
    header, body, arrays = members(good)
    path = tmp_path / "count.ckpt"
    rewrite(path, dict(header, n_arrays=n_arrays), body, arrays)
    assert refused(path, "") == f"malformed header: n_arrays {n_arrays!r}"


@pytest.mark.parametrize("n_arrays", [0, MAX_ARRAYS])
def test_an_array_count_at_its_limits_is_compared_with_the_members(tmp_path, good, n_arrays):
    header, body, arrays = members(good)
    extra = {f"a{k}": np.zeros(1) for k in range(10)}  # ten members: the message lists the first eight
    path = tmp_path / "count.ckpt"
    rewrite(path, dict(header, n_arrays=n_arrays), body, extra)
    assert refused(path, "") == (f"holds arrays ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'], the header declares "
                                 f"{n_arrays}")


@pytest.mark.parametrize("body", [[1], {"identity": 3, "state": {}}, {"identity": {}}, {"state": {}}])
def test_read_refuses_a_body_without_identity_and_state(tmp_path, good, body):
    header, _, arrays = members(good)
    path = tmp_path / "body.ckpt"
    rewrite(path, header, body, arrays)
    assert refused(path, "") == "malformed body: no identity and state"


def test_read_bounds_each_array_by_the_architecture(tmp_path, good):
    header, body, arrays = members(good)
    # [3, 4, 2] with biases: 4*4 + 5*2 = 26 parameters, 12 rows: 8 * 26 = 208 bytes per array at most
    path = tmp_path / "fat.ckpt"
    rewrite(path, header, body, dict(arrays, a0=np.zeros(26 + 1)))
    refused(path, r"^member 'a0.npy' of shape \(27,\) is larger than its part of the file allows \(208 bytes\)$")
    rewrite(path, header, body, dict(arrays, a0=np.zeros(26)))  # exactly the limit: read (check_state judges its shape)
    assert read(path)[0] == body["identity"]


@pytest.mark.parametrize("identity, limit", [
    ({"architecture": {"layer_sizes": [3, 4, 2]}, "rows": 12}, 8 * 26),
    ({"architecture": {"layer_sizes": [3, 4, 2]}, "rows": 100}, 8 * 100),  # one index per row
    ({"architecture": {"layer_sizes": [3, 4, 2]}, "rows": True}, 8 * 26),
    ({"architecture": {"layer_sizes": [3, 4, 2]}, "rows": 0}, 8 * 26),
    ({"architecture": {"layer_sizes": [3, 4, 2]}}, 8 * 26),
    ({"architecture": {"layer_sizes": [1, 1]}, "rows": 1}, 8 * 2),
    ({"architecture": {"layer_sizes": [1, 1]}, "rows": "9"}, 8 * 2),
    ({"architecture": {"layer_sizes": [3]}, "rows": 12}, 0),
    ({"architecture": {"layer_sizes": [3, 0, 2]}, "rows": 12}, 0),
    ({"architecture": {"layer_sizes": [3, True, 2]}, "rows": 12}, 0),
    ({"architecture": {"layer_sizes": [3, 1, 2]}, "rows": 1}, 8 * (4 + 4)),
    ({"architecture": [3, 4, 2], "rows": 12}, 0),
])
def test_the_array_limit_follows_the_identity(tmp_path, good, identity, limit):
    header, body, arrays = members(good)
    path = tmp_path / "limit.ckpt"
    n = limit // 8
    rewrite(path, dict(header, n_arrays=1), dict(body, identity=identity), {"a0": np.zeros(n + 1)})
    refused(path, rf"^member 'a0.npy' of shape \({n + 1},\) is larger than its part of the file allows \({limit} bytes\)$")
    rewrite(path, dict(header, n_arrays=1), dict(body, identity=identity, state={"x": {"__array__": 0}}),
            {"a0": np.arange(n, dtype=np.float64)})
    assert read(path)[1]["x"].tolist() == list(range(n))


def test_read_refuses_an_altered_array(tmp_path, good):
    header, body, arrays = members(good)
    path = tmp_path / "altered.ckpt"
    rewrite(path, header, body, dict(arrays, a0=arrays["a0"] + 1), resign=False)
    assert refused(path, "") == "checksum mismatch: the checkpoint was corrupted or altered"


@pytest.mark.parametrize("value, reason", [
    ({"__array__": 99}, "a reference to array 99 of 1"),
    ({"__array__": 1}, "a reference to array 1 of 1"),
    ({"__array__": -1}, "a reference to array -1 of 1"),
    ({"__array__": True}, "a reference to array True of 1"),
    ({"__array__": "0"}, "a reference to array '0' of 1"),
    ({"__float__": "1e999"}, "a non-finite number written as '1e999'"),
])
def test_read_refuses_a_malformed_reference(tmp_path, good, value, reason):
    header, body, arrays = members(good)
    path = tmp_path / "ref.ckpt"
    rewrite(path, dict(header, n_arrays=1), dict(body, state={"x": value}), {"a0": np.zeros(2)})
    assert refused(path, "") == f"malformed state ({reason})"


def test_non_finite_numbers_and_arrays_come_back(tmp_path, good):
    header, body, arrays = members(good)
    path = tmp_path / "floats.ckpt"
    state = {"x": [{"__float__": "nan"}, {"__float__": "inf"}, {"__float__": "-inf"}, {"__array__": 0}], "y": 1.5}
    rewrite(path, dict(header, n_arrays=1), dict(body, state=state), {"a0": np.arange(3.0)})
    x = read(path)[1]["x"]
    assert np.isnan(x[0]) and x[1] == np.inf and x[2] == -np.inf and x[3].tolist() == [0.0, 1.0, 2.0]


def test_the_header_and_body_are_written_as_documented(good):
    header, body, arrays = members(good)
    with np.load(good, allow_pickle=False) as npz:
        raw_header, raw_body = npz["header"].tobytes().decode("utf-8"), npz["body"].tobytes().decode("utf-8")
    assert raw_header == json.dumps(header, sort_keys=True) and raw_body == json.dumps(body, sort_keys=True)
    assert header["bpx_version"] == bpx.__version__ and header["format"] == "bpx.checkpoint"
    assert header["format_version"] == 1 and header["n_arrays"] == len(arrays)


# -- check_state: the state against the run ---------------------------------------------------------------------
def tamper(state, key, value):
    state = copy.deepcopy(state)
    *parents, last = key.split(".")
    target = state
    for p in parents:
        target = target[int(p)] if isinstance(target, list) else target[p]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return state


DELETE = object()
W1 = np.zeros((3, 4), np.float32)
LONG = list(range(30))


STATE_CASES = [
    ("epoch", -1, r"epoch -1 is not a count of epochs"),
    ("epoch", True, r"epoch True is not a count of epochs"),
    ("finished", "yes", r"finished 'yes' is not true or false"),
    ("params", [W1, W1, W1], r"3 parameter arrays, the network has 4"),
    ("params", "x", r"'x' parameter arrays, the network has 4"),
    ("params.0", W1.T.copy(),
     r"parameter W1 is an array of shape \(4, 3\) and dtype float32, the network needs \(3, 4\) floats"),
    ("params.0", np.zeros((3, 4), np.int64),
     r"parameter W1 is an array of shape \(3, 4\) and dtype int64, the network needs \(3, 4\) floats"),
    ("params.0", LONG, re.escape(f"parameter W1 is {repr(LONG)[:40]}, the network needs (3, 4) floats")),
    ("params.0", np.zeros((3, 4)), r"parameter W1 has dtype float64, the run's is float32$"),
    ("params.2", np.full((4, 2), np.nan, np.float32), r"parameter W2 holds NaN or infinite values$"),
    ("rng", [], r"malformed random streams$"),
    ("rng.fit_start", DELETE, r"malformed random stream 'fit_start' \(KeyError: 'fit_start'\)$"),
    ("rng.dropout", {"bit_generator": "PCG64", "state": 3},
     r"malformed random stream 'dropout' \((TypeError|ValueError|KeyError): "),
    ("history", [], r"malformed History$"),
    ("history.metrics", [], r"malformed History$"),
    ("history.metrics.loss", None, r"malformed History$"),
    ("history.metrics.loss", [True, 0.5], r"malformed History$"),
    ("history.best_epoch", "3", r"malformed History$"),
    ("history.stopped_early", "no", r"malformed History$"),
    ("history.metrics.loss", [0.5, 0.4, 0.3], r"a History of 3 epochs for 2 complete epochs$"),
    ("callbacks", "x", r"malformed callback states$"),
    ("callbacks", [3], r"malformed callback states$"),
    ("callbacks", [{"type": "X", "state": 3}], r"malformed callback states$"),
    ("callbacks", [{"type": 3, "state": {}}], r"malformed callback states$"),
    ("position", "x", r"malformed position inside an epoch$"),
    # the optimizer
    ("optimizer", "x", r"an optimizer state of 'x', the run's optimizer is SGD$"),
    ("optimizer.type", "Adam", r"an optimizer state of 'Adam', the run's optimizer is SGD$"),
    ("optimizer.hyper.lr", DELETE, r"the optimizer state lacks \['lr'\]$"),
    ("optimizer.hyper", 3, r"the optimizer state lacks 3$"),
    ("optimizer.hyper.step", 1, r"optimizer attribute 'step' = 1, which SGD does not have$"),
    ("optimizer.hyper._x", 1, r"optimizer attribute '_x' = 1, which SGD does not have$"),
    ("optimizer.hyper.a b", 1, r"optimizer attribute 'a b' = 1, which SGD does not have$"),
    ("optimizer.hyper.done2", [1], r"optimizer attribute 'done2' = \[1\], which SGD does not have$"),
    ("optimizer.hyper.step", "x" * 58, re.escape(f"optimizer attribute 'step' = {'x' * 58!r}, which SGD does not have")),
    ("optimizer.hyper.step", "x" * 59, re.escape(f"optimizer attribute 'step' = {repr('x' * 59)[:57]}..., which SGD")),
    ("optimizer.hyper.momentum", float("nan"), r"optimizer attribute momentum is nan$"),
    ("optimizer.hyper.lr", 0.5, r"optimizer lr 0.5, this run's is 0.1 \(and no callback of the run changes it\)$"),
    ("optimizer.hyper.lr", 1, r"optimizer lr 1, this run's is 0.1 \(and no callback of the run changes it\)$"),
    ("optimizer.hyper.momentum", 0.5, r"optimizer momentum 0.5, this run's is 0.9$"),
    ("optimizer.hyper.momentum", "0.9", r"optimizer attribute momentum is '0.9', a float was expected$"),
    ("optimizer.hyper.clip_norm", 1.0, r"optimizer attribute clip_norm is 1.0, a NoneType was expected$"),
    ("optimizer.hyper.clip_value", 1.0, r"optimizer attribute clip_value is 1.0, a NoneType was expected$"),
    ("optimizer.t", -1, r"optimizer step count -1$"),
    ("optimizer.t", "3", r"optimizer step count '3'$"),
    ("optimizer.shapes", [[4, 3], [4], [4, 2], [2]],
     re.escape("optimizer state for shapes [[4, 3], [4], [4, 2], [2]], the network's are [[3, 4], [4], [4, 2], [2]]")),
    ("optimizer.state", 3, r"malformed optimizer state$"),
    ("optimizer.shapes", None, r"malformed optimizer state$"),
    ("optimizer.state.v", 3, r"optimizer state 'v' does not match the parameters' shapes$"),
    ("optimizer.state.v.0", W1.T.copy(), r"optimizer state 'v' does not match the parameters' shapes$"),
    ("optimizer.state.v.0", [1.0], r"optimizer state 'v' does not match the parameters' shapes$"),
    ("optimizer.state." + SCALE, [np.zeros(2)], rf"malformed loss-scaler state '{SCALE}'$"),
    ("optimizer.state." + GOOD, [np.array(1.0), np.array(1.0)], rf"malformed loss-scaler state '{GOOD}'$"),
    ("optimizer.state." + GOOD, np.array(1.0), rf"malformed loss-scaler state '{GOOD}'$"),
]


@pytest.mark.parametrize("key, value, reason", STATE_CASES, ids=[f"{c[0]}={str(c[1])[:20]}" for c in STATE_CASES])
def test_check_state_names_what_does_not_fit(good, key, value, reason):
    identity, state = read(good)
    check_state(good, state, 2, identity, sgd())  # the untouched state fits
    refused(good, r"^the checkpoint's state does not fit this run: " + reason,
            lambda: check_state(good, tamper(state, key, value), 2, identity, sgd()))


def test_check_state_names_what_is_missing(good):
    identity, state = read(good)
    assert refused(good, "", lambda: check_state(good, [], 2, identity, sgd())) == (
        "the checkpoint's state does not fit this run: not a mapping")
    state = {k: v for k, v in state.items() if k not in ("epoch", "rng")}
    assert refused(good, "", lambda: check_state(good, state, 2, identity, sgd())) == (
        "the checkpoint's state does not fit this run: no epoch, rng")


def test_check_state_counts_the_epochs(good):
    identity, state = read(good)
    check_state(good, state, 2, identity, sgd())
    assert refused(good, "", lambda: check_state(good, state, 1, identity, sgd())) == (
        "the checkpoint already holds 2 complete epochs, more than epochs=1; a resume goes on to epochs in total: "
        "give epochs=2 or more (or another checkpoint path to start anew)")


def test_check_state_follows_the_identity(good):
    identity, state = read(good)
    no_bias = copy.deepcopy(identity)
    no_bias["architecture"]["bias"] = False
    refused(good, r"4 parameter arrays, the network has 2$", lambda: check_state(good, state, 2, no_bias, sgd()))
    wide = dict(identity, dtype="float64")
    refused(good, r"parameter W1 has dtype float32, the run's is float64$", lambda: check_state(good, state, 2, wide, sgd()))
    check_state(good, state, 2, dict(identity, dtype="float16"), sgd())  # fp16 runs keep float32 parameters


def test_the_loss_scalers_state_is_one_0d_array_each(good):
    identity, state = read(good)
    scaled = tamper(tamper(state, "optimizer.state." + SCALE, [np.array(1024.0)]), "optimizer.state." + GOOD,
                    [np.array(3)])
    check_state(good, scaled, 2, identity, sgd())
    bad = copy.deepcopy(scaled)
    bad["optimizer"]["state"] = {SCALE: [np.array(1024.0)], "v": 3}  # the scale first, then a bad array
    refused(good, r"optimizer state 'v' does not match", lambda: check_state(good, bad, 2, identity, sgd()))


@pytest.mark.parametrize("callback, lr, accepted", [
    ("ReduceLROnPlateau", 0.05, True),
    ("ReduceLROnPlateau", 0.5, True),
    ("MyCallback#1", 0.05, True),
    ("ReduceLROnPlateau", 0.0, False),
    ("ReduceLROnPlateau", -0.1, False),
    ("EarlyStopping", 0.05, False),
    ("EarlyStopping#2", 0.05, False),
    ("ModelCheckpoint", 0.05, False),
])
def test_only_a_callback_that_may_change_it_lets_the_learning_rate_differ(good, callback, lr, accepted):
    identity, state = read(good)
    state = tamper(tamper(state, "optimizer.hyper.lr", lr), "callbacks", [{"type": callback, "state": {}}])
    if accepted:
        check_state(good, state, 2, identity, sgd())
    else:
        refused(good, rf"optimizer lr {lr!r}, this run's is 0.1 \(and no callback of the run changes it\)$",
                lambda: check_state(good, state, 2, identity, sgd()))
    # another hyperparameter is never excused by a callback
    state = tamper(tamper(state, "optimizer.hyper.lr", 0.1), "optimizer.hyper.momentum", 0.5)
    refused(good, r"optimizer momentum 0.5, this run's is 0.9$", lambda: check_state(good, state, 2, identity, sgd()))


def test_an_added_plain_attribute_does_not_end_the_checks(good):
    identity, state = read(good)
    state = copy.deepcopy(state)
    state["optimizer"]["hyper"] = {"aaa": 1, **state["optimizer"]["hyper"], "lr": 0.5}
    refused(good, r"optimizer lr 0.5, this run's is 0.1", lambda: check_state(good, state, 2, identity, sgd()))


N = 26  # parameters of [3, 4, 2]
LBFGS_CASES = [
    ("optimizer.pairs", "x"),
    ("optimizer.pairs", 3),
    ("optimizer.pairs.0", [np.zeros(N, np.float32), np.zeros(N, np.float32)]),
    ("optimizer.pairs.0", [np.zeros(N, np.float32), np.zeros(N, np.float32), "x"]),
    ("optimizer.pairs.0", [np.zeros(N + 1, np.float32), np.zeros(N, np.float32), 1.0]),
    ("optimizer.pairs.0", [[0.0] * N, np.zeros(N, np.float32), 1.0]),
    ("optimizer.pairs.0", (np.zeros(N, np.float32), np.zeros(N, np.float32), 1.0)),
    ("optimizer.n_iter", "3"),
    ("optimizer.converged", "no"),
    ("optimizer.g", np.zeros(N + 1, np.float32)),
    ("optimizer.g", [0.0] * N),
]


@pytest.mark.parametrize("key, value", LBFGS_CASES, ids=[f"{c[0]}={str(c[1])[:12]}" for c in LBFGS_CASES])
def test_check_state_refuses_a_malformed_lbfgs_state(lbfgs, key, value):
    identity, state = read(lbfgs)
    check_state(lbfgs, state, 2, identity, bpx.LBFGS())
    check_state(lbfgs, tamper(state, "optimizer.g", None), 2, identity, bpx.LBFGS())
    assert refused(lbfgs, "", lambda: check_state(lbfgs, tamper(state, key, value), 2, identity, bpx.LBFGS())) == (
        "the checkpoint's state does not fit this run: malformed L-BFGS state")


# -- check_identity: another run ----------------------------------------------------------------------------------
@pytest.mark.parametrize("change, reason", [
    ({"rows": 13}, "training rows differs (checkpoint 12, this fit 13)"),
    ({"batch_size": 8}, "batch size differs (checkpoint 4, this fit 8)"),
    ({"engine": "compiled"}, "engine (its batches and positions are its own) differs (checkpoint 'eager', this fit "
                             "'compiled')"),
    ({"dtype": "float64"}, "dtype differs (checkpoint 'float32', this fit 'float64')"),
    ({"rows": 13, "batch_size": 8}, "batch size differs (checkpoint 4, this fit 8) (and 1 more setting(s))"),
    ({"rows": 13, "batch_size": 8, "dtype": "float64"},
     "batch size differs (checkpoint 4, this fit 8) (and 2 more setting(s))"),
])
def test_check_identity_names_the_first_difference(good, change, reason):
    identity, _ = read(good)
    check_identity(good, identity, dict(identity))
    assert refused(good, "", lambda: check_identity(good, identity, dict(identity, **change))) == (
        f"the checkpoint is of another run: {reason}; resume with the same network, optimizer, batch size and data, "
        f"or use another checkpoint path")


def test_check_identity_names_a_nested_setting_by_its_dotted_path(good):
    identity, _ = read(good)
    current = copy.deepcopy(identity)
    current["architecture"]["activation"] = "tanh"
    assert "architecture.activation differs (checkpoint 'relu', this fit 'tanh'); " in refused(
        good, "", lambda: check_identity(good, identity, current))
    current = copy.deepcopy(identity)
    current["architecture"]["layer_sizes"] = [3, 5, 2]
    current["rows"] = "r" * 80  # a long value is cut to 60 characters
    message = refused(good, "", lambda: check_identity(good, identity, current))
    assert "architecture.layer_sizes differs (checkpoint [3, 4, 2], this fit [3, 5, 2]) (and 1 more setting(s))" in message
    current = copy.deepcopy(identity)
    current["rows"] = "r" * 80
    assert f"training rows differs (checkpoint 12, this fit {repr('r' * 80)[:57]}...)" in refused(
        good, "", lambda: check_identity(good, identity, current))
    saved = copy.deepcopy(identity)
    saved["architecture"]["extra"] = 1  # a setting only the checkpoint has
    assert "architecture.extra differs (checkpoint 1, this fit None)" in refused(
        good, "", lambda: check_identity(good, saved, identity))


def test_check_identity_compares_a_setting_with_a_value_of_another_kind(good):
    identity, _ = read(good)
    assert refused(good, "", lambda: check_identity(good, identity, dict(identity, architecture="mlp"))).startswith(
        f"the checkpoint is of another run: architecture differs (checkpoint {str(identity['architecture'])[:57]}...")


def test_the_member_count_message_lists_only_arrays(tmp_path, good):
    header, body, _ = members(good)
    path = tmp_path / "count.ckpt"
    rewrite(path, dict(header, n_arrays=2), body, {"a0": np.zeros(1)})
    assert refused(path, "") == "holds arrays ['a0'], the header declares 2"
