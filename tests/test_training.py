"""The one training loop (bpx.training): no import cycles, every feature on every engine, callbacks,
checkpoints that resume bit for bit (also after a SIGKILL), and stopping on a signal."""

import ast
import os
import pathlib
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import bpx
from bpx.errors import CheckpointError
from bpx.nn._precision import supports
from bpx.training import stop_on_signals

ROOT = pathlib.Path(bpx.__file__).parent


# -- the import graph -------------------------------------------------------------------------------
def import_graph(root=ROOT):
    """{module: modules it imports} for every module of the package at ``root``, from the AST, counted
    as docs/development/architecture.md ("Layers") counts them: imports
    inside functions too, and the package root itself (``import bpx``, ``from . import x`` in
    ``bpx/__init__.py``, ``from .. import __version__``) as a module like any other, so a cycle through
    ``bpx/__init__.py`` is seen. ``from pkg import name`` imports the submodule when ``name`` is one,
    else the package itself; ``import a.b.c`` counts as an import of the deepest module it names."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path

    def known(name):  # the deepest module a dotted name names ("bpx.MLP" -> "bpx")
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets = subs + ([base] if len(subs) < len(node.names) else [])
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {known(t) for t in targets if known(t) in modules} - {name}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_bpx():
    graph = import_graph()
    assert {"bpx", "bpx.models._mlp", "bpx.training._loop"} <= set(graph)  # the root and the loop are seen
    assert "bpx.callbacks" in graph["bpx"]  # the root's `from .callbacks import ...` is an edge
    found = cycles(graph)
    assert not found, f"import cycles in bpx/: {[sorted(c) for c in found]}"


def test_the_import_graph_sees_a_cycle_through_the_package_root(tmp_path):
    """`import pkg` (or `from .. import x`) in a submodule the root imports is a cycle through
    pkg/__init__.py, and so is one only a function-level import closes."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import thing\n__version__ = '1'\n")
    (pkg / "sub" / "__init__.py").write_text("from ._thing import thing\n")
    (pkg / "sub" / "_thing.py").write_text("def thing():\n    from .. import __version__\n    return __version__\n")
    (pkg / "leaf.py").write_text("import pkg\n")
    graph = import_graph(pkg)
    assert graph["pkg.sub._thing"] == {"pkg"} and graph["pkg.leaf"] == {"pkg"}
    assert cycles(graph) == [{"pkg", "pkg.sub", "pkg.sub._thing"}]
    (pkg / "sub" / "_thing.py").write_text("import pkg.leaf\n")
    assert cycles(import_graph(pkg)) == [{"pkg", "pkg.leaf", "pkg.sub", "pkg.sub._thing"}]


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


# -- helpers ----------------------------------------------------------------------------------------------
def problem(m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def dtype_of(backend):
    return "float64" if backend.has_dtype("float64") else "float32"


def net_on(backend, dropout=0.0, seed=3):
    return bpx.MLP([4, 6, 3], activation="tanh", backend=backend, dtype=dtype_of(backend), seed=seed, dropout=dropout)


def host(net):
    return [bpx.to_numpy(p) for p in net.params]


def assert_same_run(a, b, ha, hb):
    for p, q in zip(host(a), host(b)):
        np.testing.assert_array_equal(p, q)
    assert ha.as_dict() == hb.as_dict()
    assert (ha.best_epoch, ha.stopped_early) == (hb.best_epoch, hb.stopped_early)


# -- every feature on every engine ------------------------------------------------------------------------
FEATURES = {
    "sample_weight": dict(sample_weight=True, batch_size=16),
    "dropout": dict(dropout=0.3, batch_size=16),
    "validation_split": dict(validation_split=0.25, batch_size=16),
    "early_stopping": dict(validation_split=0.25, early_stopping=1, batch_size=16, epochs=8),
    "lbfgs": dict(optimizer="lbfgs"),
    "lbfgs_validation_data": dict(optimizer="lbfgs", validation_data=True),
    "lbfgs_validation_split": dict(optimizer="lbfgs", validation_split=0.25),
    "lbfgs_early_stopping": dict(optimizer="lbfgs", validation_split=0.25, early_stopping=1, epochs=12),
    "lbfgs_sample_weight": dict(optimizer="lbfgs", sample_weight=True),
    "callbacks": dict(callbacks=True, batch_size=16),
    "checkpoint": dict(checkpoint=True, batch_size=16),
}
REFUSED = {}  # (feature, engine) -> the reason it cannot be offered; refused before any work


def run_feature(backend, to_input, feature, tmp_path):
    spec = dict(FEATURES[feature])
    X, y = problem()
    dropout = spec.pop("dropout", 0.0)
    net = net_on(backend, dropout=dropout)
    kw = dict(epochs=spec.pop("epochs", 3), verbose=0)
    lbfgs = spec.pop("optimizer", None) == "lbfgs"

    def optimizer():
        return bpx.LBFGS() if lbfgs else bpx.SGD(lr=0.1, momentum=0.5)

    kw["optimizer"] = optimizer()
    seen = []
    if spec.pop("sample_weight", False):
        kw["sample_weight"] = np.random.default_rng(1).uniform(0.0, 2.0, 45 if spec.get("validation_data") else 60)
    if spec.pop("validation_data", False):
        X, y, kw["validation_data"] = X[:45], y[:45], (to_input(X[45:]), y[45:])
        kw.get("sample_weight")
    if spec.pop("callbacks", False):
        kw["callbacks"] = [lambda epoch, logs: seen.append(epoch)]
    if spec.pop("checkpoint", False):
        kw["checkpoint"] = str(tmp_path / f"{feature}.ckpt")
    kw.update(spec)
    history = net.fit(to_input(X), y, **kw)
    assert len(history) >= 1 and all(np.isfinite(history.loss))
    if "callbacks" in kw:
        assert seen == list(range(1, len(history) + 1))
    if "checkpoint" in kw:
        assert os.path.exists(kw["checkpoint"])
    if "validation_split" in kw or "validation_data" in kw:
        assert len(history.val_loss) == len(history)
    # the effect: the same run without the feature trains otherwise (weights, dropout, fewer training rows)
    effects = [k for k in ("sample_weight", "validation_split") if k in kw] + (["dropout"] if dropout else [])
    if effects:
        base_kw = {k: v for k, v in kw.items()
                   if k not in (*effects, "callbacks", "checkpoint", "early_stopping", "validation_data")}
        base_kw["optimizer"] = optimizer()
        base = net_on(backend, dropout=0.0 if "dropout" in effects else dropout)
        h0 = base.fit(to_input(X), y, **base_kw)
        n = min(len(h0), len(history))
        assert not np.allclose(history.loss[:n], h0.loss[:n], rtol=1e-6, atol=0), (feature, effects)
    if "validation_data" in kw and "early_stopping" not in kw:  # the last val_loss is the final model's
        Xv, yv = kw["validation_data"]
        np.testing.assert_allclose(history.val_loss[-1], net.evaluate(Xv, yv)["loss"], rtol=1e-4)
    return history


def test_the_feature_table_has_no_gap(backend, to_input, tmp_path):
    """Every feature runs on this backend's engine, or is refused before any work with its reason
    (REFUSED); anything else is a silent gap."""
    engine = bpx.training.engines.engine_for(net_on(backend), to_input(problem()[0])).name
    table = {}
    for feature in FEATURES:
        reason = REFUSED.get((feature, engine))
        if reason is None:
            run_feature(backend, to_input, feature, tmp_path)
            table[feature] = "yes"
        else:
            table[feature] = f"refused: {reason}"
    assert set(table) == set(FEATURES) and all(v == "yes" or v.startswith("refused: ") for v in table.values())


def test_lbfgs_with_a_validation_split_and_early_stopping(backend, to_input):
    X, y = problem()
    net = net_on(backend)
    history = net.fit(to_input(X), y, epochs=15, optimizer=bpx.LBFGS(), verbose=0, validation_split=0.25,
                      early_stopping=2)
    assert len(history.val_loss) == len(history)
    if history.stopped_early:
        assert history.val_loss[history.best_epoch - 1] == min(history.val_loss)


def test_sample_weights_follow_a_validation_split(backend, to_input):
    """Weights of 1 everywhere give the unweighted run, also with the rows held out by a split."""
    X, y = problem()
    runs = []
    for w in (None, np.ones(60)):
        net = net_on(backend)
        h = net.fit(to_input(X), y, epochs=2, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0,
                    validation_split=0.25, sample_weight=w)
        runs.append((host(net), h.val_loss))
    for p, q in zip(runs[0][0], runs[1][0]):
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-5)


# -- callbacks ------------------------------------------------------------------------------------------------
class Recorder(bpx.Callback):
    def __init__(self):
        self.calls, self.batches = [], 0

    def on_train_begin(self, logs=None):
        self.calls.append("begin")

    def on_epoch_begin(self, epoch):
        self.calls.append(f"epoch {epoch}")

    def on_batch_end(self, batch, logs):
        self.batches += 1
        assert logs["size"] in (16, 12) and np.isfinite(float(logs["loss"]))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(f"end {epoch} {sorted(k for k, v in logs.items() if v is not None)}")

    def on_train_end(self, logs=None):
        self.calls.append("train end")


def test_callbacks_see_every_hook_and_can_stop(backend, to_input):
    X, y = problem()
    rec = Recorder()
    h = net_on(backend).fit(to_input(X), y, epochs=3, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0,
                            callbacks=[rec, lambda epoch, logs: epoch == 2])
    assert len(h) == 2 and rec.batches == 2 * 4  # 60 rows: 3 batches of 16 and one of 12 (live or replayed)
    assert rec.calls == ["begin", "epoch 1", "end 1 ['accuracy', 'loss']", "epoch 2", "end 2 ['accuracy', 'loss']",
                         "train end"]
    with pytest.raises(TypeError, match=r"callbacks\[0\]"):
        net_on(backend).fit(to_input(X), y, callbacks=[3], verbose=0)
    with pytest.raises(TypeError, match="wrap one in a list"):
        net_on(backend).fit(to_input(X), y, callbacks=rec, verbose=0)


def test_early_stopping_callback_equals_the_option(backend, to_input):
    X, y = problem()
    kw = dict(epochs=40, batch_size=16, optimizer=None, verbose=0, validation_split=0.3)
    a, b = net_on(backend), net_on(backend)
    ha = a.fit(to_input(X), y, early_stopping=2, **dict(kw, optimizer=bpx.SGD(lr=0.5, momentum=0.9)))
    hb = b.fit(to_input(X), y, callbacks=[bpx.EarlyStopping(2)], **dict(kw, optimizer=bpx.SGD(lr=0.5, momentum=0.9)))
    assert_same_run(a, b, ha, hb)


def test_a_changed_learning_rate_takes_effect_on_every_engine(backend, to_input):
    """A callback lowering lr after epoch 2 equals two fits, the second with the lower rate (on JAX the
    compiled epoch is keyed on the optimizer's hyperparameters, so it recompiles for the new rate)."""
    X, y = problem()

    def halve(epoch, logs):
        if epoch == 2:
            a.optimizer.lr = 0.05

    a, b = net_on(backend), net_on(backend)
    ha = a.fit(to_input(X), y, epochs=4, batch_size=16, optimizer=bpx.SGD(lr=0.1, momentum=0.9), verbose=0,
               callbacks=[halve], shuffle=False)
    opt = bpx.SGD(lr=0.1, momentum=0.9)
    h1 = b.fit(to_input(X), y, epochs=2, batch_size=16, optimizer=opt, verbose=0, shuffle=False)
    opt.lr = 0.05
    h2 = b.fit(to_input(X), y, epochs=2, batch_size=16, optimizer=opt, verbose=0, shuffle=False)
    np.testing.assert_array_equal(ha.loss, h1.loss + h2.loss)
    for p, q in zip(host(a), host(b)):
        np.testing.assert_array_equal(p, q)


def test_reduce_lr_on_plateau(backend, to_input):
    X, y = problem()
    # "higher loss is better" never improves on a falling loss: the rate halves after every 2 epochs
    cb = bpx.ReduceLROnPlateau(factor=0.5, patience=2, monitor="loss", mode="max")
    opt = bpx.SGD(lr=0.1)
    net_on(backend).fit(to_input(X), y, epochs=5, batch_size=16, optimizer=opt, verbose=0, callbacks=[cb])
    assert opt.lr == pytest.approx(0.025)
    with pytest.raises(ValueError, match="lr is a number"):
        net_on(backend).fit(to_input(X), y, epochs=1, optimizer=bpx.LBFGS(), verbose=0, callbacks=[cb])


def test_csv_logger_and_model_checkpoint(backend, to_input, tmp_path):
    X, y = problem()
    log = tmp_path / "run.csv"
    net = net_on(backend)
    saver = bpx.ModelCheckpoint(str(tmp_path / "m-{epoch}.npz"), every=1, keep=2)
    best = bpx.ModelCheckpoint(str(tmp_path / "best.npz"), best=True, monitor="val_loss")
    h = net.fit(to_input(X), y, epochs=4, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0, validation_split=0.25,
                callbacks=[bpx.CSVLogger(log), saver, best])
    rows = log.read_text().splitlines()
    assert rows[0] == "epoch,loss,accuracy,val_loss,val_accuracy" and len(rows) == 5
    assert float(rows[-1].split(",")[1]) == h.loss[-1]
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "m-3.npz", "m-4.npz", "run.csv"]
    np.testing.assert_array_equal(bpx.to_numpy(bpx.load(tmp_path / "m-4.npz", backend="numpy").params[0]),
                                  host(net)[0].astype(net.dtype))


# -- checkpoints ------------------------------------------------------------------------------------------------
RUNS = {
    "sgd_dropout_split_early": dict(net=dict(dropout=0.3), fit=dict(batch_size=16, validation_split=0.25,
                                                                   early_stopping=3, optimizer="sgd")),
    "adam_weights": dict(net={}, fit=dict(batch_size=7, sample_weight=True, optimizer="adam")),
    "lbfgs_validation": dict(net={}, fit=dict(validation_split=0.2, optimizer="lbfgs")),
}


def make_optimizer(name):
    return {"sgd": lambda: bpx.SGD(lr=0.2, momentum=0.9), "adam": lambda: bpx.Adam(lr=0.02),
            "lbfgs": lambda: bpx.LBFGS()}[name]()


def fit_run(backend, to_input, name, epochs, **extra):
    spec = RUNS[name]
    X, y = problem()
    net = net_on(backend, **spec["net"])
    kw = dict(spec["fit"], epochs=epochs, verbose=0)
    kw["optimizer"] = make_optimizer(kw["optimizer"])
    if kw.pop("sample_weight", False):
        kw["sample_weight"] = np.random.default_rng(1).uniform(0.0, 2.0, 60)
    kw.update(extra)
    return net, net.fit(to_input(X), y, **kw)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_resumed_run_is_the_uninterrupted_run_bit_for_bit(backend, to_input, tmp_path, name):
    path = str(tmp_path / "run.ckpt")
    ref, h_ref = fit_run(backend, to_input, name, 8)
    _, h_first = fit_run(backend, to_input, name, 3, checkpoint=path, resume=True)  # no file: starts fresh
    assert h_first.resumed_from is None and len(h_first) <= 3
    net, h = fit_run(backend, to_input, name, 8, checkpoint=path, resume=True)
    assert h.resumed_from == len(h_first)
    assert_same_run(ref, net, h_ref, h)
    again, h_again = fit_run(backend, to_input, name, 8, checkpoint=path, resume=True)  # finished: nothing to do
    assert_same_run(ref, again, h_ref, h_again)


def test_a_checkpoint_of_another_run_is_refused(backend, to_input, tmp_path):
    X, y = problem()
    path = tmp_path / "run.ckpt"
    net_on(backend).fit(to_input(X), y, epochs=1, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0, checkpoint=path)
    cases = [(bpx.MLP([4, 5, 3], activation="tanh", backend=backend, dtype=dtype_of(backend)), {}, "architecture"),
             (net_on(backend), dict(optimizer=bpx.Adam()), "optimizer"),
             (net_on(backend), dict(batch_size=8), "batch size")]
    if backend.has_dtype("float64"):
        cases.append((bpx.MLP([4, 6, 3], activation="tanh", backend=backend, dtype="float32" if dtype_of(backend)
                              == "float64" else "float64", seed=3), {}, "dtype"))
    cases = [case + (path,) for case in cases]
    if supports(backend, "bf16"):  # mixed precision computes other numbers: another run (of a float32 checkpoint,
        float32 = tmp_path / "float32.ckpt"  # so that the precision is the first setting that differs)
        bpx.MLP([4, 6, 3], activation="tanh", backend=backend, dtype="float32", seed=3).fit(
            to_input(X), y, epochs=1, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0, checkpoint=float32)
        cases.append((bpx.MLP([4, 6, 3], activation="tanh", backend=backend, dtype="float32", precision="bf16", seed=3), {},
                      "precision", float32))
    for net, change, what, checkpoint in cases:
        before = host(net)
        kw = dict(dict(epochs=2, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0), **change)
        with pytest.raises(CheckpointError, match=rf"another run: {what}[^(]* differs \(checkpoint"):
            net.fit(to_input(X), y, checkpoint=checkpoint, resume=True, **kw)
        for p, q in zip(before, host(net)):
            np.testing.assert_array_equal(p, q)
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(CheckpointError):
        net_on(backend).fit(to_input(X), y, epochs=2, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0,
                            checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="resume=True needs checkpoint"):
        net_on(backend).fit(to_input(X), y, resume=True, verbose=0)


def test_a_checkpoint_of_other_data_of_the_same_shape_is_refused(backend, to_input, tmp_path):
    """Same rows, columns and dtypes, other data: one value of X, the rows shuffled, one label, one sample
    weight, one validation value. The identity's data fingerprints refuse each before any work (the
    network and the checkpoint untouched); the same data resumes to the uninterrupted run, bit for bit."""
    X, y = problem()
    w = np.random.default_rng(1).uniform(0.5, 2.0, 60)
    X_val, y_val = problem(m=20, seed=5)

    def run(net, epochs, X=X, y=y, w=w, X_val=X_val, **kw):
        return net.fit(to_input(X), y, epochs=epochs, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0,
                       sample_weight=w, validation_data=(to_input(X_val), y_val), **kw)

    ref = net_on(backend)
    h_ref = run(ref, 4)
    path = tmp_path / "run.ckpt"
    run(net_on(backend), 2, checkpoint=path)
    written = path.read_bytes()
    order = np.random.default_rng(2).permutation(60)
    one_value, one_label, one_weight, one_val = X.copy(), y.copy(), w.copy(), X_val.copy()
    one_value[17, 2] += 0.5
    one_label[3] = (one_label[3] + 1) % 3
    one_weight[40] *= 1.5
    one_val[0, 0] -= 0.25
    training = r"the training data \(X, Y and sample_weight\) differ"
    fingerprints = r" \(fingerprint [0-9a-f]{12} in the checkpoint, fingerprint [0-9a-f]{12} in this fit\); resume"
    for change, what in ((dict(X=one_value), training), (dict(X=X[order], y=y[order], w=w[order]), training),
                         (dict(y=one_label), training), (dict(w=one_weight), training),
                         (dict(X_val=one_val), r"the validation data \(validation_data, or the rows validation_split "
                                               r"holds out\) differ")):
        net = net_on(backend)
        before = host(net)
        with pytest.raises(CheckpointError, match=rf"of another run: {what}{fingerprints}"):
            run(net, 4, checkpoint=path, resume=True, **change)
        for p, q in zip(before, host(net)):
            np.testing.assert_array_equal(p, q)
        assert path.read_bytes() == written
    net = net_on(backend)
    h = run(net, 4, checkpoint=path, resume=True)
    assert h.resumed_from == 2
    assert_same_run(ref, net, h_ref, h)


def test_a_checkpoint_without_data_fingerprints_resumes_with_a_warning(backend, to_input, tmp_path):
    """A checkpoint of the previous bpx (no data fingerprints in its identity; the same format version)
    still resumes, bit for bit, with a warning that its data could not be checked."""
    from bpx.training._checkpoint import read, write

    ref, h_ref = fit_run(backend, to_input, "adam_weights", 5)
    path = str(tmp_path / "run.ckpt")
    fit_run(backend, to_input, "adam_weights", 2, checkpoint=path)
    identity, state = read(path)
    assert sorted(identity) == ["architecture", "batch_size", "data", "dtype", "engine", "optimizer", "precision",
                                "rows", "validation"]
    assert re.fullmatch("[0-9a-f]{64}", identity["data"]) and identity["validation"] is None
    write(path, {k: v for k, v in identity.items() if k not in ("data", "validation")}, state)
    with pytest.warns(UserWarning, match="holds no fingerprint of the training or validation data .an older bpx"):
        net, h = fit_run(backend, to_input, "adam_weights", 5, checkpoint=path, resume=True)
    assert h.resumed_from == 2
    assert_same_run(ref, net, h_ref, h)


def test_a_data_fingerprint_reads_at_most_1024_evenly_spaced_rows_and_2m_values():
    from bpx.training._checkpoint import fingerprint, sampled_rows

    assert sampled_rows(1).tolist() == [0] and sampled_rows(5).tolist() == [0, 1, 2, 3, 4]
    assert sampled_rows(1024).tolist() == list(range(1024))
    rows = sampled_rows(10**6)
    assert len(rows) == 1024 and rows[0] == 0 and rows[-1] == 10**6 - 1
    assert set(np.diff(rows).tolist()) == {977, 978}  # (10**6 - 1) / 1023 = 977.5
    assert len(set(sampled_rows(1025).tolist())) == 1024
    assert len(sampled_rows(10**6, width=10**4)) == 209 and sampled_rows(10**6, width=10**4)[-1] == 10**6 - 1
    assert sampled_rows(10, width=10**8).tolist() == [0]  # one row, however wide
    sample = np.arange(12.0).reshape(4, 3)
    base = fingerprint([(10, 3)], [sample])
    assert re.fullmatch("[0-9a-f]{64}", base) and base == fingerprint([(10, 3)], [sample.copy()])
    changed = sample.copy()
    changed[2, 1] = -changed[2, 1]
    others = {fingerprint([(11, 3)], [sample]), fingerprint([(10, 3)], [sample.astype(np.float32)]),
              fingerprint([(10, 3)], [sample[::-1]]), fingerprint([(10, 3)], [changed]),
              fingerprint([(10, 3), (10, 3)], [sample, sample])}
    assert base not in others and len(others) == 5


class SignalAt(bpx.Callback):
    """Sends this process a signal after a given batch of a given epoch (a user's Ctrl-C mid-epoch)."""

    def __init__(self, epoch, batch, sig=signal.SIGINT):
        self.at, self.sig, self.epoch = (epoch, batch), sig, 0

    def on_epoch_begin(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), self.sig)


@pytest.mark.parametrize("name", ["sgd_dropout_split_early", "adam_weights"])
def test_a_signal_stops_cleanly_and_the_run_resumes_bit_for_bit(backend, to_input, tmp_path, name):
    """SIGINT inside epoch 2: fit returns (interrupted="SIGINT") after the current step (the current
    compiled epoch on JAX) with a checkpoint that resumes to the uninterrupted run's numbers."""
    path = str(tmp_path / "run.ckpt")
    ref, h_ref = fit_run(backend, to_input, name, 5)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup
    with stop_on_signals():
        net, h = fit_run(backend, to_input, name, 5, checkpoint=path, callbacks=[SignalAt(2, 1)])
    assert h.interrupted == "SIGINT" and len(h) in (1, 2)
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    resumed, h2 = fit_run(backend, to_input, name, 5, checkpoint=path, resume=True)
    assert h2.interrupted is None
    assert_same_run(ref, resumed, h_ref, h2)


SCRIPT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import bpx
    sys.path.insert(0, {tests!r})
    from test_training import fit_run, host
    from conftest import SPEC
    backend = bpx.get_backend(SPEC)

    def to_input(a):
        a = np.asarray(a)
        if backend.library.lazy:
            import dask.array as da
            return da.from_array(a, chunks=(max(1, -(-a.shape[0] // 3)),) + (-1,) * (a.ndim - 1))
        return backend.asarray(a.astype(np.float32) if a.dtype == np.float64 and not backend.has_dtype("float64") else a)

    slow = bpx.Callback()
    slow.on_epoch_end = lambda epoch, logs: time.sleep(0.05)
    net, h = fit_run(backend, to_input, {name!r}, {epochs}, checkpoint={path!r}, resume=True, callbacks=[slow])
    np.savez({out!r}, *host(net), loss=np.array(h.loss))
""")


@pytest.mark.parametrize("name", ["sgd_dropout_split_early", "lbfgs_validation"])
def test_a_run_killed_at_a_random_moment_resumes_bit_for_bit(backend, to_input, tmp_path, name):
    """A subprocess running fit(checkpoint=..., resume=True) is SIGKILLed at a random moment after its
    first checkpoint appears; running it again finishes the run with the uninterrupted run's numbers."""
    path, out = str(tmp_path / "run.ckpt"), str(tmp_path / "out.npz")
    epochs = 30
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(pathlib.Path(__file__).parent), name=name, epochs=epochs, path=path,
                                    out=out))
    env = dict(os.environ, PYTHONPATH=str(ROOT.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with open(tmp_path / "first.err", "wb") as err:
        proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 300
    while not os.path.exists(path) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(float(np.random.default_rng().uniform(0.0, 0.3)))  # a random moment after the first checkpoint
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill: make it longer"
    assert os.path.exists(path), (tmp_path / "first.err").read_text()
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    ref, h_ref = fit_run(backend, to_input, name, epochs)
    with np.load(out) as result:
        for k, p in enumerate(host(ref)):
            np.testing.assert_array_equal(result[f"arr_{k}"], p)
        np.testing.assert_array_equal(result["loss"], h_ref.loss)


# -- the guide's examples ----------------------------------------------------------------------------------
GUIDE = ROOT.parent / "docs" / "guide" / "training.md"
GUIDE_BLOCKS = re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), flags=re.S) if GUIDE.exists() else []


@pytest.mark.parametrize("code", GUIDE_BLOCKS, ids=[f"example{k + 1}" for k in range(len(GUIDE_BLOCKS))])
def test_the_training_guide_examples_print_what_they_claim(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(GUIDE), "exec"), {})
    claimed = code.rstrip().splitlines()[-1].lstrip("# ").strip()
    assert capsys.readouterr().out.strip() == claimed


def test_a_resumed_csv_log_matches_the_history(backend, to_input, tmp_path):
    """Rows logged after the last checkpoint (a kill between the two) are dropped on resume."""
    X, y = problem()
    log, path = tmp_path / "run.csv", str(tmp_path / "run.ckpt")

    def run(epochs):
        return net_on(backend).fit(to_input(X), y, epochs=epochs, batch_size=16, optimizer=bpx.SGD(lr=0.1), verbose=0,
                                   checkpoint=path, resume=True, callbacks=[bpx.CSVLogger(log)])

    run(3)
    with open(log, "a") as f:
        f.write("4,9.0,0.5,,\n")  # logged, then killed before its checkpoint
    h = run(5)
    rows = log.read_text().splitlines()[1:]
    assert [float(r.split(",")[1]) for r in rows] == h.loss and len(rows) == 5
