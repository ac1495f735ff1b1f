"""The model owns its state and shows it through a small public protocol (docs/development/architecture.md):
no other module reaches into a model's (or any other object's) private attributes, the architecture is
written once (get_config / from_config), construction and fit are keyword-only after the data, the math
is a functional core of (net, params, inputs), and the loop's parts are declared protocols."""

import ast
import json
import os
import typing

import numpy as np
import pytest

import bpx
from bpx.data._adapter import as_data
from bpx.nn._functional import forward, loss_and_grads, measure
from bpx.training._loop import FullBatch, Method, MiniBatch
from bpx.training.engines import Engine
from bpx.training.engines._compiled import CompiledEngine
from bpx.training.engines._eager import EagerEngine

PKG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bpx")

# the reaches left, each with its reason; the count of each may only go down
ALLOWED = {
    # spox's switch for constant folding while ONNX export records (a third-party private, kept on purpose)
    ("io/_onnx.py", "._VALUE_PROP_BACKEND"): 3,
    # scikit-learn's own private helper
    ("integrations/_sklearn.py", "._check_solver"): 2,
}


def _private_reaches():
    """``{(file, what): count}``: attribute reads and writes ``x._name`` where x is not self/cls, and
    imports of a ``_name`` from another bpx module, counted as the project's architecture check counts them."""
    found = {}
    for folder, _, files in os.walk(PKG):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, PKG).replace(os.sep, "/")
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            for node in ast.walk(tree):
                what = None
                if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                    if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                        what = f".{node.attr}"
                if what is not None:
                    found[(rel, what)] = found.get((rel, what), 0) + 1
                if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("bpx")):
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            key = (rel, f"import {alias.name}")
                            found[key] = found.get(key, 0) + 1
    return found


def test_no_module_reaches_into_another_objects_private_attributes():
    """Engines, optimizers, tools, io and callbacks use the model's public protocol (params, rngs,
    get_config, the functional core), never ``net._params`` or an imported ``_name``."""
    found = _private_reaches()
    extra = {key: n for key, n in found.items() if n > ALLOWED.get(key, 0)}
    assert not extra, f"private reaches beyond the allowed ones: {extra}"
    model_privates = {"._params", "._XY", "._forward", "._backward", "._loss_and_grads", "._measure",
                      "._shuffle_rng", "._dropout_rng", "._dtype", "._slices", "._fused", "._sample_weight"}
    assert not [key for key in found if key[1] in model_privates]
    assert sum(found.values()) <= 10


CONFIGS = [
    dict(layer_sizes=[4, 5, 3]),
    dict(layer_sizes=[4, 6, 5, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy", bias=False,
         dropout=[0.25, 0.0], init="glorot", seed=7),
    dict(layer_sizes=[3, 2], activation="sigmoid", output="identity", loss="mse", dtype="float64", seed=3),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_get_config_round_trips_through_from_config_and_json(backend, config):
    """from_config(get_config()) builds the same network: the same config, repr and initial parameters
    (bit for bit: the same seed), and the config is plain JSON."""
    if config.get("dtype") == "float64" and not backend.has_dtype("float64"):
        pytest.skip(f"{backend.spec} has no float64")
    net = bpx.MLP(config["layer_sizes"], backend=backend, **{k: v for k, v in config.items() if k != "layer_sizes"})
    saved = net.get_config()
    assert json.loads(json.dumps(saved)) == saved
    assert set(saved) == {"layer_sizes", "activation", "output", "loss", "dtype", "seed", "init", "bias", "dropout",
                          "precision"}
    for key, value in config.items():
        assert saved[key] == (value if key != "dropout" else list(value)), key
    twin = bpx.MLP.from_config(saved, backend=backend)
    assert twin.get_config() == saved
    assert repr(twin) == repr(net)
    for a, b in zip(net.params, twin.params):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
    saved["layer_sizes"].append(9)  # the dict is the caller's: changing it changes nothing in the network
    assert net.layer_sizes == config["layer_sizes"]


def test_from_config_refuses_what_is_not_a_config(backend):
    config = bpx.MLP([3, 2], backend=backend).get_config()
    with pytest.raises(TypeError, match="config must be a dict"):
        bpx.MLP.from_config([3, 2], backend=backend)
    with pytest.raises(ValueError, match=r"unknown keys \['width'\]"):
        bpx.MLP.from_config(dict(config, width=3), backend=backend)
    with pytest.raises(ValueError, match="layer_sizes"):
        bpx.MLP.from_config({k: v for k, v in config.items() if k != "layer_sizes"}, backend=backend)
    with pytest.raises(ValueError, match="activation"):
        bpx.MLP.from_config(dict(config, activation="no_such"), backend=backend)


def test_the_architecture_is_read_from_get_config_everywhere(backend, tmp_path):
    """save's header, copy and the loss name all come from get_config (one place)."""
    net = bpx.MLP([4, 3, 2], activation="tanh", bias=False, dropout=0.5, seed=2, backend=backend)
    config = net.get_config()
    path = bpx.save(net, str(tmp_path / "m.npz"))
    header, _ = bpx.io.read(path)
    assert {key: header[key] for key in config} == config
    assert bpx.load(path, backend=backend).get_config() == config
    assert net.copy().get_config() == config
    assert net.loss_name == config["loss"] == "cross_entropy"
    assert callable(net.loss)  # net.loss(X, Y) is the cost; the name is loss_name / get_config()["loss"]


def test_construction_and_fit_are_keyword_only_after_the_data(backend):
    with pytest.raises(TypeError, match="positional"):
        bpx.MLP([4, 3], "tanh")
    net = bpx.MLP([4, 3], backend=backend)
    X, y = np.ones((6, 4)), np.arange(6) % 3
    with pytest.raises(TypeError, match="positional"):
        net.fit(X, y, 2)
    with pytest.raises(TypeError, match="positional"):
        bpx.training.fit(net, X, y, 2)
    assert len(net.fit(X, y, epochs=2, verbose=0)) == 2


def test_params_are_the_live_list_and_assignment_installs_it(backend):
    net = bpx.MLP([3, 4, 2], backend=backend, seed=1)
    assert net.params is net.params
    new = [backend.xp.asarray(p, copy=True) for p in net.params]
    net.params = new
    assert net.params is new
    net.params = tuple(new)  # any sequence becomes the network's list
    assert type(net.params) is list and all(a is b for a, b in zip(net.params, new))


def test_the_functional_core_is_the_models_math(backend, float64):
    """forward/loss_and_grads/measure of (net, params, inputs) give net.forward/loss_and_grads/evaluate, and
    compute on the parameters given, not the network's."""
    net = bpx.MLP([3, 5, 2], activation="tanh", dtype=float64, backend=backend, seed=4)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    Xd, Yd = as_data(net, X, y)
    np.testing.assert_array_equal(bpx.to_numpy(forward(net, net.params, Xd)[0]), bpx.to_numpy(net.forward(X)))
    cost, grads, _ = loss_and_grads(net, net.params, Xd, Yd)
    expected_cost, expected = net.loss_and_grads(X, y)
    assert float(cost) == expected_cost
    for a, b in zip(grads, expected):
        np.testing.assert_array_equal(bpx.to_numpy(a), bpx.to_numpy(b))
    zeros = [backend.xp.zeros_like(p) for p in net.params]
    cost0, correct = measure(net, zeros, Xd, Yd)
    assert float(cost0) == pytest.approx(np.log(2.0), rel=1e-12)  # all-zero parameters: uniform softmax
    assert float(cost0) != net.loss(X, y)
    assert 0 <= float(correct) <= 8


def test_the_host_streams_are_public_and_drive_the_shuffle(backend):
    """net.rngs.shuffle is the stream fit shuffles with: set to a state, the same fit gives the same numbers."""
    X, y = np.random.default_rng(1).standard_normal((20, 3)), np.arange(20) % 2
    a, b = (bpx.MLP([3, 4, 2], backend=backend, seed=5) for _ in range(2))
    b.rngs.shuffle = np.random.default_rng(99)
    state = b.rngs.shuffle.bit_generator.state
    a.rngs.shuffle.bit_generator.state = state
    ha = a.fit(X, y, epochs=2, batch_size=4, optimizer=bpx.SGD(0.1), verbose=0)
    hb = b.fit(X, y, epochs=2, batch_size=4, optimizer=bpx.SGD(0.1), verbose=0)
    assert ha.loss == hb.loss
    assert set(type(a.rngs).__slots__) == {"shuffle", "dropout"}


def _members(protocol):
    return {name for name in vars(protocol) if not name.startswith("_")} | set(typing.get_type_hints(protocol))


def test_the_engines_and_methods_implement_their_declared_protocols():
    engines = [EagerEngine, CompiledEngine]
    try:
        from bpx.training.engines._distributed import DistributedEngine
    except ImportError:  # no dask here
        pass
    else:
        engines.append(DistributedEngine)
    engine_members = _members(Engine) - {"net"}  # set by __init__
    assert {"data", "epoch", "snapshot", "host_values", "objective", "to_host", "from_host"} <= engine_members
    for engine in engines:
        missing = [name for name in engine_members if not hasattr(engine, name)]
        assert not missing, (engine.__name__, missing)
    for method in (MiniBatch, FullBatch):
        missing = [name for name in _members(Method) - {"done"} if not hasattr(method, name)]
        assert not missing, (method.__name__, missing)
