"""bpx on Dask: the NumPy backend's numbers on dask arrays, on the local scheduler and on a 2-worker
multi-process LocalCluster (started and closed here), a worker killed mid-fit, and bad input.

These tests need dask[array] and distributed (``pip install 'bpx-backprop[dask]'``); they run whatever
BPX_BACKEND is, since they compare the dask path against NumPy.
"""

import concurrent.futures
import json
import os
import pathlib
import signal
import threading
import time
import types

import numpy as np
import pytest

import bpx

dask = pytest.importorskip("dask", reason="needs dask[array]: pip install 'bpx-backprop[dask]'")
da = pytest.importorskip("dask.array", reason="needs dask[array]: pip install 'bpx-backprop[dask]'")
distributed = pytest.importorskip("distributed", reason="needs dask.distributed: pip install 'bpx-backprop[dask]'")
import bpx.training.engines._dask_math as bd  # noqa: E402

RTOL = 1e-10  # float64, NumPy backend vs Dask


def blobs(m=240, n_in=6, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_in)) * 2
    y = rng.integers(0, n_classes, m)
    return centers[y] + rng.standard_normal((m, n_in)), y


NETS = {
    "softmax": dict(layer_sizes=[6, 8, 3]),
    "sigmoid": dict(layer_sizes=[6, 5, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy"),
    "mse": dict(layer_sizes=[6, 7, 2], activation="sigmoid", output="identity", loss="mse"),
}


def targets(kind, X, y):
    if kind == "softmax":
        return y
    if kind == "sigmoid":
        return (y == 1).astype(np.float64)
    return np.stack([X[:, 0] - X[:, 1], X[:, 2] * 0.5], axis=1)


def pair(kind, seed=3, backend="dask"):
    """The same network on NumPy and on the given (dask-path) backend."""
    spec = NETS[kind]
    return (bpx.MLP(**spec, backend="numpy", dtype="float64", seed=seed),
            bpx.MLP(**spec, backend=backend, dtype="float64", seed=seed))


def assert_same_params(a, b, rtol=RTOL):
    for p, q in zip(a.params, b.params):
        p, q = bpx.to_numpy(p), bpx.to_numpy(q)
        assert np.max(np.abs(p - q)) <= rtol * np.max(np.abs(p)), np.max(np.abs(p - q)) / np.max(np.abs(p))


def train_both(kind, batch_size, optimizer, chunks=70, epochs=3, backend="dask", **kw):
    X, y = blobs()
    Y = targets(kind, X, y)
    a, b = pair(kind, backend=backend)
    ha = a.fit(X, Y, epochs=epochs, batch_size=batch_size, shuffle=False, optimizer=optimizer(), verbose=0)
    hb = b.fit(da.from_array(X, chunks=(chunks, 6)), Y, epochs=epochs, batch_size=batch_size, shuffle=False,
               optimizer=optimizer(), verbose=0, **kw)
    return a, b, ha, hb


# -- the local scheduler -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(NETS))
@pytest.mark.parametrize("batch_size", [None, 50])
def test_fit_equals_numpy(kind, batch_size):
    opt = (lambda: bpx.SGD(lr=0.2, momentum=0.5)) if batch_size else (lambda: bpx.Adam(lr=0.01))
    a, b, ha, hb = train_both(kind, batch_size, opt)
    assert_same_params(a, b)
    np.testing.assert_allclose(hb.as_dict()["loss"], ha.as_dict()["loss"], rtol=RTOL)
    if kind != "mse":
        assert hb.as_dict()["accuracy"] == ha.as_dict()["accuracy"]


def test_numpy_backend_with_a_dask_x_and_dask_labels():
    """A network on the NumPy backend trains through Dask when X is a dask array (y chunked alike)."""
    X, y = blobs()
    a, b = pair("softmax", backend="numpy")
    a.fit(X, y, epochs=2, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0)
    Xd = da.from_array(X, chunks=(100, 3))  # two column chunks: rechunked to one
    b.fit(Xd, da.from_array(y, chunks=100), epochs=2, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0)
    assert_same_params(a, b)


def test_float32_close_to_numpy():
    X, y = blobs()
    a = bpx.MLP([6, 8, 3], backend="numpy", seed=1)
    b = bpx.MLP([6, 8, 3], backend="dask", seed=1)
    a.fit(X, y, epochs=3, batch_size=None, optimizer=bpx.SGD(lr=0.3), verbose=0)
    b.fit(da.from_array(X.astype(np.float32), chunks=(64, 6)), y, epochs=3, batch_size=None,
          optimizer=bpx.SGD(lr=0.3), verbose=0)
    assert b.params[0].dtype == np.float32
    for p, q in zip(a.params, b.params):
        np.testing.assert_allclose(q, p, rtol=1e-4, atol=1e-6)


def test_host_data_on_the_dask_backend_is_chunked_and_the_chunks_knob():
    X, y = blobs()
    chunked = bd.as_dask(X, chunks=50)
    assert chunked.chunks == ((50, 50, 50, 50, 40), (6,))
    # 240 rows of 48 bytes fit one 64 MiB chunk, but every thread gets two chunks (no Client: the CPUs)
    assert bd.as_dask(X).chunks[0][0] == -(-240 // (2 * (os.cpu_count() or 1)))
    a, b = pair("softmax")
    a.fit(X, y, epochs=2, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0)
    b.fit(X, y, epochs=2, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0)  # host X, dask backend
    assert_same_params(a, b)


def test_shuffled_batches_are_reproducible_and_documented():
    X, y = blobs()
    Xd = da.from_array(X, chunks=(70, 6))
    runs = []
    for _ in range(2):
        net = bpx.MLP([6, 8, 3], backend="dask", dtype="float64", seed=5)
        h = net.fit(Xd, y, epochs=2, batch_size=32, shuffle=True, optimizer=bpx.SGD(lr=0.2), verbose=0)
        runs.append((net, h))
    for p, q in zip(runs[0][0].params, runs[1][0].params):
        np.testing.assert_array_equal(p, q)
    unshuffled = bpx.MLP([6, 8, 3], backend="dask", dtype="float64", seed=5)
    unshuffled.fit(Xd, y, epochs=2, batch_size=32, shuffle=False, optimizer=bpx.SGD(lr=0.2), verbose=0)
    assert not np.array_equal(unshuffled.params[0], runs[0][0].params[0])
    # the documented scheme: chunk order, then rows within each chunk, from the network's host RNG
    rng = np.random.default_rng(0)
    batches = list(bd.batches([Xd, da.from_array(np.arange(240)[:, None], chunks=(70, 1))], 32, rng))
    rows = np.concatenate([b.compute()[:, 0] for _, b in batches])
    assert sorted(rows.tolist()) == list(range(240)) and [b.shape[0] for b, _ in batches] == [32] * 7 + [16]
    rng = np.random.default_rng(0)
    first = rng.permutation(4)[0]  # the first chunk of the epoch's order; its rows in a random order
    expected = 70 * first + rng.permutation(Xd.chunks[0][first])
    assert set(rows[:32]) == set(expected[:32])  # the first batch: the first 32 rows of that sequence


def test_predict_forward_are_lazy_and_evaluate_gives_numbers():
    X, y = blobs()
    Xd = da.from_array(X, chunks=(70, 6))
    for kind in NETS:
        a, b = pair(kind)
        for method in ("forward", "predict") + (("predict_proba",) if kind != "mse" else ()):
            lazy = getattr(b, method)(Xd)
            assert isinstance(lazy, da.Array) and lazy.chunks[0] == Xd.chunks[0]
            np.testing.assert_allclose(lazy.compute(), getattr(a, method)(X), rtol=1e-12)
        Y = targets(kind, X, y)
        got, want = b.evaluate(Xd, Y), a.evaluate(X, Y)
        assert set(got) == set(want) and all(isinstance(v, float) for v in got.values())
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-12)
        assert b.loss(Xd, da.from_array(Y, chunks=(70,) + Y.shape[1:])) == pytest.approx(a.loss(X, Y), rel=1e-12)


def test_validation_data_and_early_stopping():
    X, y = blobs()
    a, b = pair("softmax")
    kw = dict(epochs=4, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0, early_stopping=2)
    ha = a.fit(X[:200], y[:200], validation_data=(X[200:], y[200:]), **kw)
    hb = b.fit(da.from_array(X[:200], chunks=(60, 6)), y[:200],
               validation_data=(da.from_array(X[200:], chunks=(15, 6)), y[200:]), **kw)
    np.testing.assert_allclose(hb.as_dict()["val_loss"], ha.as_dict()["val_loss"], rtol=1e-12)
    assert hb.best_epoch == ha.best_epoch
    assert_same_params(a, b)


def test_validation_split_holds_out_the_rows_numpy_holds_out():
    X, y = blobs()
    a, b = pair("softmax")
    kw = dict(epochs=3, batch_size=None, optimizer=bpx.SGD(lr=0.5), verbose=0, validation_split=0.25)
    ha = a.fit(X, y, **kw)
    hb = b.fit(da.from_array(X, chunks=(70, 6)), y, **kw)
    np.testing.assert_allclose(hb.as_dict()["val_loss"], ha.as_dict()["val_loss"], rtol=1e-12)
    assert_same_params(a, b)


def test_a_checkpoint_fingerprint_computes_only_the_chunks_of_its_sampled_rows(tmp_path):
    """The data fingerprint of a checkpoint's identity (one small compute of at most 1024 rows) reads the
    chunks that hold those rows, never the whole array; and the fingerprint is the NumPy backend's."""
    from bpx.training._checkpoint import read, sampled_rows
    from bpx.training.engines._distributed import DistributedEngine

    m, computed = 20_000, []

    def record(block, block_info=None):
        computed.append(block_info[0]["chunk-location"][0])
        return block

    host = np.arange(m * 2, dtype=np.float64).reshape(m, 2)
    X = da.from_array(host, chunks=(10, 2)).map_blocks(record, dtype=np.float64)
    rows = sampled_rows(m)
    with dask.config.set(scheduler="synchronous"):
        [sample] = DistributedEngine(bpx.MLP([2, 3, 2], backend="dask")).host_rows([X], rows)
    np.testing.assert_array_equal(sample, host[rows])
    assert len(set(computed)) == len(computed) == 1024 < X.numblocks[0]
    X, y = blobs()
    paths = {name: tmp_path / f"{name}.ckpt" for name in ("numpy", "dask")}
    bpx.MLP([6, 8, 3], backend="numpy", seed=0).fit(X, y, epochs=1, verbose=0, checkpoint=paths["numpy"])
    bpx.MLP([6, 8, 3], backend="dask", seed=0).fit(da.from_array(X, chunks=(70, 6)), y, epochs=1, verbose=0,
                                                   checkpoint=paths["dask"])
    assert read(paths["dask"])[0]["data"] == read(paths["numpy"])[0]["data"]


# -- bad input: clear errors, nothing changed ------------------------------------------------------------
def unchanged(net, before):
    for p, q in zip(net.params, before):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("case,error,match", [
    ("nan_chunk", ValueError, r"X contains NaN or infinite values \(row chunk 2: rows 140..209\)"),
    ("y_chunks", ValueError, r"Y's row chunks \(100, 100, 40\) differ from X's \(70, 70, 70, 30\).*rechunk"),
    ("y_rows", ValueError, "Y has 239 samples but X has 240"),
    ("bad_label", ValueError, "class label 7"),
    ("width", ValueError, "X has 5 features per sample, but the network expects 6"),
    ("unknown_chunks", ValueError, "unknown chunk sizes"),
    ("three_d", ValueError, "must be 2-D"),
    ("validation_split", ValueError, "leaves no training samples"),
    ("y_torch_like", TypeError, "targets"),
])
def test_bad_input_is_refused_before_any_work(case, error, match):
    X, y = blobs()
    Xd = da.from_array(X, chunks=(70, 6))
    Y, kw = y, {}
    if case == "nan_chunk":
        bad = X.copy()
        bad[150, 2] = np.inf
        Xd = da.from_array(bad, chunks=(70, 6))
    elif case == "y_chunks":
        Y = da.from_array(y, chunks=100)
    elif case == "y_rows":
        Y = y[:-1]
    elif case == "bad_label":
        Y = y.copy()
        Y[200] = 7
        Y = da.from_array(Y, chunks=70)
    elif case == "width":
        Xd = Xd[:, :5]
    elif case == "unknown_chunks":
        Xd = Xd[Xd[:, 0] > -100]
    elif case == "three_d":
        Xd = da.from_array(X.reshape(240, 2, 3), chunks=(70, 2, 3))
    elif case == "validation_split":
        kw = dict(validation_split=0.9999)
    elif case == "y_torch_like":
        Y = None
    net = bpx.MLP([6, 8, 3], backend="dask", dtype="float64")
    before = [p.copy() for p in net.params]
    with pytest.raises(error, match=match):
        net.fit(Xd, Y, epochs=1, verbose=0, **kw)
    unchanged(net, before)
    assert net.optimizer is None


def test_nonfinite_chunk_in_predict_and_evaluate_raise():
    X, y = blobs()
    X[5, 0] = np.nan
    net = bpx.MLP([6, 8, 3], backend="dask", dtype="float64")
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.predict(da.from_array(X, chunks=(70, 6))).compute()
    with pytest.raises(ValueError, match="NaN or infinite"):
        net.evaluate(da.from_array(X, chunks=(70, 6)), y)


def test_a_scheduler_that_does_not_answer():
    with pytest.raises(ValueError, match=r"dask scheduler 'tcp://127.0.0.1:9' did not answer within 1 s"):
        bd.connect("tcp://127.0.0.1:9", timeout=1)


def test_the_backend_entry():
    backend = bpx.get_backend("dask")
    assert backend.library.lazy and backend.device == "cpu"
    assert backend.library.owns(da.zeros(3)) and not backend.library.owns(np.zeros(3))
    np.testing.assert_array_equal(bpx.to_numpy(da.arange(4, chunks=2)), np.arange(4))
    with pytest.raises(ValueError, match="dask's parameters live on the host"):
        bpx.get_backend("dask:cuda")


def test_finiteness_is_checked_in_bounded_blocks(monkeypatch):
    import bpx.data._adapter as validation

    monkeypatch.setattr(validation, "FINITE_CHECK_VALUES", 12)  # 2 rows of 6 at a time
    X, _ = blobs()
    assert validation.all_finite(X)
    for row in (0, 119, 239):
        bad = X.copy()
        bad[row, 5] = np.nan
        assert not validation.all_finite(bad)
        with pytest.raises(ValueError, match="NaN or infinite"):
            bpx.MLP([6, 3], backend="numpy").forward(bad)


# -- a 2-worker multi-process LocalCluster ----------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster_client():
    from distributed import Client, LocalCluster

    # dashboard on a free port (":0"): dashboard_address=None still binds the default 8787 and warns when taken
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           timeout=60, death_timeout=60)
    client = Client(cluster, timeout=60)
    try:
        yield cluster, client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)


def test_cluster_fit_equals_numpy(cluster_client):
    _, client = cluster_client
    assert bd.client() is client
    for batch_size in (None, 50):
        a, b, ha, hb = train_both("softmax", batch_size, lambda: bpx.SGD(lr=0.3, momentum=0.5), epochs=2)
        assert_same_params(a, b)
        np.testing.assert_allclose(hb.as_dict()["loss"], ha.as_dict()["loss"], rtol=RTOL)
    # the chunks ran on both workers
    assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2


def test_cluster_predict_is_lazy(cluster_client):
    X, _ = blobs()
    a, b = pair("softmax")
    lazy = b.predict(da.from_array(X, chunks=(70, 6)))
    np.testing.assert_array_equal(lazy.compute(), a.predict(X))


def test_a_worker_killed_during_fit_changes_nothing(cluster_client):
    """Kill one worker's process while fit runs: Dask recomputes the lost chunks and retries the step;
    the result equals an undisturbed run's."""
    cluster, _ = cluster_client
    X, y = blobs(m=2000)
    Xd = da.from_array(X, chunks=(250, 6))
    kw = dict(epochs=12, batch_size=None, shuffle=False, verbose=0)
    quiet = bpx.MLP([6, 8, 3], backend="dask", dtype="float64", seed=2)
    with dask.config.set(scheduler="synchronous"):  # the same graph, so the same sums, on the local scheduler
        quiet.fit(Xd, y, optimizer=bpx.SGD(lr=0.3), **kw)
    net = bpx.MLP([6, 8, 3], backend="dask", dtype="float64", seed=2)
    opt = bpx.SGD(lr=0.3)
    failure = []

    def train():
        try:
            net.fit(Xd, y, optimizer=opt, **kw)
        except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
            failure.append(exc)

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 120
    while getattr(opt, "t", 0) < 2 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert thread.is_alive() and opt.t < kw["epochs"], "fit ended before a worker could be killed"
    victim = next(iter(cluster.workers.values()))
    os.kill(victim.process.process.pid, signal.SIGKILL)
    killed_at = opt.t
    thread.join(180)
    assert not thread.is_alive() and not failure, failure
    assert killed_at < opt.t == kw["epochs"]
    for p, q in zip(quiet.params, net.params):
        np.testing.assert_allclose(q, p, rtol=1e-12, atol=0)


# -- lazy data sets and the command line ------------------------------------------------------------------
@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """The same 500 x 4 data set as a zarr store, HDF5, .npy and .npz shards and a CSV file."""
    zarr = pytest.importorskip("zarr", reason="needs zarr")
    h5py = pytest.importorskip("h5py", reason="needs h5py")
    d = tmp_path_factory.mktemp("stores")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(500, 4)), rng.integers(0, 3, 500)
    g = zarr.open_group(str(d / "big.zarr"), mode="w")
    g.create_array("X", data=X, chunks=(100, 2))
    g.create_array("y", data=y, chunks=(100,))
    with h5py.File(d / "big.h5", "w") as f:
        f["X"], f["y"] = X, y
    (d / "npy").mkdir()
    (d / "npz").mkdir()
    for i in range(3):
        np.save(d / "npy" / f"part{i}.npy", X[i * 200:(i + 1) * 200])
        np.savez(d / "npz" / f"part{i}.npz", X=X[i * 200:(i + 1) * 200], y=y[i * 200:(i + 1) * 200])
    with open(d / "big.csv", "w") as f:
        f.write("a,b,c,d,label\n")
        for row, label in zip(X, y):
            f.write(",".join(repr(float(v)) for v in row) + f",{int(label)}\n")
    return d, X, y


@pytest.mark.parametrize("name,kw,chunks", [("big.zarr", {}, "default"), ("big.zarr", dict(chunks=150), (150, 150, 150, 50)),
                                            ("big.h5", dict(chunks=128), (128, 128, 128, 116)),
                                            ("npy", {}, (200, 200, 100)), ("npz/*.npz", {}, (200, 200, 100)),
                                            ("big.csv", dict(chunks=100), None)])
def test_open_dask_reads_lazily_what_load_reads(stores, name, kw, chunks):
    from bpx import datasets

    d, X, y = stores

    def default():  # about 64 MiB per chunk, two chunks per thread (no Client: per CPU)
        return da.core.normalize_chunks((bd.default_rows(X.shape, 8),), (500,))[0]

    before = default()  # a Client an earlier test is still closing may change the thread count
    ds = datasets.open_dask(str(d / name), **kw)
    assert isinstance(ds.X, da.Array) and ds.X.numblocks[1] == 1
    if chunks == "default":
        assert ds.X.chunks[0] in (before, default())
    elif chunks is not None:
        assert ds.X.chunks[0] == chunks
    np.testing.assert_array_equal(ds.X.compute(), X)
    if name != "npy":
        assert ds.y.chunks[0] == ds.X.chunks[0]
        np.testing.assert_array_equal(ds.y.compute(), y)


def test_open_dask_refuses_what_it_cannot_open(tmp_path):
    from bpx import datasets

    with pytest.raises(ValueError, match="no such file"):
        datasets.open_dask(str(tmp_path / "missing.zarr/X"))
    (tmp_path / "a.bin").write_bytes(b"xx")
    with pytest.raises(ValueError, match="not a data set dask can open lazily"):
        datasets.open_dask(str(tmp_path / "a.bin"))


def test_cli_train_on_a_zarr_store_with_a_local_cluster(stores, tmp_path, capsys):
    from bpx.cli import main

    d, X, y = stores
    out = tmp_path / "m.npz"
    rc = main(["train", "--backend", "dask", "--data", str(d / "big.zarr"), "--workers", "1", "--chunks", "100",
               "--epochs", "2", "--batch-size", "full", "--optimizer", "sgd", "--lr", "0.5", "--hidden", "5",
               "--out", str(out), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"] == "dask" and summary["epochs_run"] == 2 and 0 <= summary["test"]["accuracy"] <= 1
    net = bpx.load(str(out), backend="numpy")
    assert net.layer_sizes == [4, 5, 3]


def test_cli_scheduler_that_does_not_answer(tmp_path, capsys):
    from bpx.cli import main

    out = tmp_path / "m.npz"
    rc = main(["train", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1",
               "--out", str(out)])
    assert rc == 1 and "did not answer within 1 s" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("feature", ["sample_weight", "dropout", "lbfgs", "lbfgs_weighted"])
def test_every_feature_on_dask_equals_numpy(feature):
    """Sample weights, dropout (host-drawn masks: the same batches get the same masks) and L-BFGS (one
    graph per cost evaluation) on dask arrays give NumPy's numbers (float64, unshuffled batches)."""
    X, y = blobs()
    w = np.random.default_rng(7).uniform(0.0, 2.0, X.shape[0])
    spec = dict(NETS["softmax"], dropout=0.3) if feature == "dropout" else NETS["softmax"]
    nets = [bpx.MLP(**spec, backend=b, dtype="float64", seed=3) for b in ("numpy", "dask")]
    kw = dict(epochs=3, verbose=0, shuffle=False)
    if feature.startswith("lbfgs"):
        kw.update(optimizer=bpx.LBFGS(), validation_split=0.25, early_stopping=2)
    else:
        kw.update(batch_size=50, optimizer=bpx.SGD(lr=0.2, momentum=0.5))
    if feature in ("sample_weight", "lbfgs_weighted"):
        kw["sample_weight"] = w
        kw.pop("validation_split", None)
    kw_b = dict(kw, optimizer=type(kw["optimizer"])(**({"lr": 0.2, "momentum": 0.5}
                                                      if not feature.startswith("lbfgs") else {})))
    ha = nets[0].fit(X, y, **kw)
    hb = nets[1].fit(da.from_array(X, chunks=(70, 6)), y, **kw_b)
    np.testing.assert_allclose(hb.loss, ha.loss, rtol=1e-10)
    assert_same_params(nets[0], nets[1], rtol=1e-9)


def test_cli_stopped_and_resumed_on_a_cluster_is_the_uninterrupted_run(cluster_client, stores, tmp_path, capsys):
    """The one `bpx train` on --backend dask (through --scheduler, no cluster of its own): stopped inside
    the run as Ctrl-C stops it, it exits 130 with a loadable model and a checkpoint, and the resumed run
    ends with the parameters, History and log of an uninterrupted one."""
    from bpx.cli import main
    from bpx.training import STOP

    cluster, _ = cluster_client
    d, _, _ = stores

    def train(epochs, out, log, *extra):
        rc = main(["train", "--backend", "dask", "--scheduler", cluster.scheduler_address, "--data",
                   str(d / "big.zarr"), "--chunks", "100", "--dtype", "float64", "--batch-size", "50",
                   "--hidden", "5", "--epochs", str(epochs), "--out", str(tmp_path / out), "--log",
                   str(tmp_path / log), "--verbose", "0", "--json", *extra])
        return rc, json.loads(capsys.readouterr().out)

    log, done = tmp_path / "run.csv", threading.Event()

    def press_ctrl_c():  # as the SIGINT handler does, once two epochs are logged
        while not done.is_set():
            if log.exists() and len(log.read_text().splitlines()) > 2:
                STOP.request("SIGINT")
                return
            time.sleep(0.01)

    presser = threading.Thread(target=press_ctrl_c, daemon=True)
    presser.start()
    try:
        rc, stopped = train(1000, "m.npz", "run.csv", "--checkpoint", str(tmp_path / "run.ckpt"))
    finally:
        done.set()
        presser.join()
        STOP.signal = None
    assert rc == 130 and stopped["interrupted"] == "SIGINT" and stopped["epochs_run"] >= 2
    assert bpx.load(str(tmp_path / "m.npz"), backend="numpy").metadata["training"]["interrupted"] == "SIGINT"
    epochs = stopped["epochs_run"] + 2
    rc, resumed = train(epochs, "m.npz", "run.csv", "--checkpoint", str(tmp_path / "run.ckpt"), "--resume")
    assert rc == 0
    rc, reference = train(epochs, "ref.npz", "ref.csv")
    assert rc == 0
    a, b = bpx.load(str(tmp_path / "m.npz"), backend="numpy"), bpx.load(str(tmp_path / "ref.npz"), backend="numpy")
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params)) and a.metadata == b.metadata
    assert resumed["history"] == reference["history"]
    assert log.read_text() == (tmp_path / "ref.csv").read_text()


# -- .npy shards with labels; every dask option takes effect or is refused before any work (issue 27) -------
def test_npy_shards_with_labels_by_name_by_glob_and_by_labels(tmp_path):
    from bpx import datasets

    X, y = blobs(m=300)
    (tmp_path / "s").mkdir()
    (tmp_path / "plain").mkdir()
    (tmp_path / "lab").mkdir()
    for i, rows in enumerate(np.array_split(np.arange(300), 3)):
        np.save(tmp_path / "s" / f"X_{i}.npy", X[rows])
        np.save(tmp_path / "s" / f"y_{i}.npy", y[rows])
        np.save(tmp_path / "plain" / f"part{i}.npy", X[rows])
        np.save(tmp_path / "lab" / f"part{i}.npy", y[rows])
    for path, kw in ((tmp_path / "s", {}), (str(tmp_path / "s" / "X_*.npy"), {}),
                     (tmp_path / "plain", dict(labels=str(tmp_path / "lab" / "*.npy"))),
                     (tmp_path / "plain", dict(labels=tmp_path / "lab"))):
        ds = datasets.open_dask(path, **kw)
        np.testing.assert_array_equal(ds.X.compute(), X)
        np.testing.assert_array_equal(ds.y.compute(), y)
        assert ds.X.chunks[0] == ds.y.chunks[0] == (100, 100, 100)
    assert datasets.open_dask(tmp_path / "plain").y is None
    np.save(tmp_path / "s" / "X_3.npy", X[:5])
    with pytest.raises(ValueError, match=r"X_3\.npy: no label shard for it"):
        datasets.open_dask(tmp_path / "s")
    with pytest.raises(ValueError, match="2 label shard.*for 3 X shard"):
        datasets.open_dask(tmp_path / "plain", labels=str(tmp_path / "lab" / "part[01].npy"))
    np.savez(tmp_path / "one.npz", X=X, y=y)
    with pytest.raises(ValueError, match="label shards go with a directory or glob of .npy shards"):
        datasets.open_dask(tmp_path / "one.npz", labels=tmp_path / "lab")


def test_chunks_apply_to_npz_shards(stores):
    from bpx import datasets

    d, X, y = stores
    ds = datasets.open_dask(str(d / "npz"), chunks=60)
    assert max(ds.X.chunks[0]) == 60 and ds.X.chunks[0] == ds.y.chunks[0]
    np.testing.assert_array_equal(ds.X.compute(), X)


@pytest.fixture
def no_cluster(monkeypatch):
    """bpx train's dask path with connecting to (or starting) a cluster made an error."""
    import bpx.data._dask_arrays as arrays

    def refuse(*a, **k):
        raise AssertionError("a cluster was started or connected to")

    monkeypatch.setattr(arrays, "connect", refuse)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)


def test_dask_settings_are_used_or_refused_before_any_work(tmp_path, capsys, monkeypatch, no_cluster):
    from bpx.cli import main

    X, y = blobs(m=120)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    (tmp_path / "xonly").mkdir()
    np.save(tmp_path / "xonly" / "part0.npy", X)
    (tmp_path / "t.csv").write_text("a,b,label\n1,x,0\n2,y,1\n")
    out = tmp_path / "m.npz"
    base = ["train", "--out", str(out)]

    def usage(*argv):
        with pytest.raises(SystemExit) as exit_:
            main([*base, *argv])
        assert exit_.value.code == 2
        return capsys.readouterr().err.strip()

    # the LocalCluster's size with a scheduler of its own: refused, naming where the scheduler came from
    err = usage("--backend", "dask", "--scheduler", "tcp://127.0.0.1:9", "--workers", "5")
    assert err.startswith("bpx train: error: argument --workers: sizes the LocalCluster") and "--scheduler" in err
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:9")
    err = usage("--backend", "dask", "--threads", "2")
    assert "argument --threads" in err and "$DASK_SCHEDULER_ADDRESS (tcp://127.0.0.1:9)" in err
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    # --workers without --backend dask: refused whatever the value (2 is the default LocalCluster's)
    for value in ("2", "3"):
        err = usage("--data", str(tmp_path / "d.npz"), "--backend", "numpy", "--workers", value)
        assert err == "bpx train: error: argument --workers: applies to --backend dask only"
    err = usage("--data", str(tmp_path / "d.npz"), "--backend", "numpy", "--labels", str(tmp_path / "xonly" / "*.npy"))
    assert "argument --labels: no such file" in err
    err = usage("--backend", "dask", "--labels", str(tmp_path / "xonly"))
    assert err == "bpx train: error: argument --labels: needs --data (the shards the label shards go with)"
    # refused values: before any cluster starts (no_cluster makes starting one an error)
    for argv, message in (
            (["--precision", "bf16"], "precision='bf16' is not offered on backend 'dask'"),
            (["--data", str(tmp_path / "xonly")], "holds no labels"),
            (["--data", str(tmp_path / "d.npz"), "--labels", str(tmp_path / "xonly")],
             "label shards go with a directory or glob of .npy shards"),
            (["--data", str(tmp_path / "t.csv"), "--labels", str(tmp_path / "xonly")],  # a table: its own labels
             "label shards go with a directory or glob of .npy shards")):
        assert main([*base, "--backend", "dask", *argv]) == 1
        err = capsys.readouterr().err
        assert message in err and "a cluster was started" not in err, err
    assert not out.exists()


def test_a_second_signal_aborts(monkeypatch):
    from bpx.cli.train_dask import second_signal_aborts
    from bpx.training import STOP, stop_on_signals

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup
    with stop_on_signals(), second_signal_aborts(STOP):
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        assert STOP.signal == "SIGINT"
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGTERM, None)
    assert STOP.signal is None and signal.getsignal(signal.SIGINT) is before


def test_a_stop_request_gives_up_a_step_that_waits_on_the_cluster(cluster_client):
    """A step the cluster cannot finish (here: a task that sleeps) is given up on a stop request; the
    graph's value is None and nothing was applied."""
    from bpx.training import STOP
    from bpx.training.engines import _cluster

    def slow(x):
        time.sleep(30)
        return x

    graph = dask.delayed(slow)(1)
    timer = threading.Timer(0.5, STOP.request, args=("SIGINT",))
    timer.start()
    try:
        assert _cluster.compute(graph, STOP) is None
    finally:
        timer.cancel()
        STOP.signal = None
    assert _cluster.compute(dask.delayed(sum)([1, 2]), STOP) == 3


@pytest.mark.parametrize("name", ["big.zarr", "big.h5", "big.csv", "labelled"])
def test_predict_and_evaluate_lazily_over_what_train_takes(cluster_client, stores, tmp_path, capsys, monkeypatch, name):
    """`bpx predict`/`evaluate --backend dask --scheduler ...` over a zarr store, HDF5, CSV and a folder of
    X_/y_ .npy shards write what the host commands write on the same data, without the host loader."""
    from bpx import datasets
    from bpx.cli import main

    cluster, _ = cluster_client
    d, X, y = stores
    if not (d / "labelled").exists():
        (d / "labelled").mkdir()
        for i in range(3):
            np.save(d / "labelled" / f"X_{i}.npy", X[i * 200:(i + 1) * 200])
            np.save(d / "labelled" / f"y_{i}.npy", y[i * 200:(i + 1) * 200])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    assert main(["train", "--backend", "numpy", "--data", str(tmp_path / "d.npz"), "--epochs", "3", "--hidden", "5",
                 "--dtype", "float64", "--out", str(model), "--json"]) == 0
    capsys.readouterr()
    for out in ("ref.csv", "ref.npy"):
        assert main(["predict", "--model", str(model), "--data", str(tmp_path / "d.npz"), "--backend", "numpy",
                     "--out", str(tmp_path / out)]) == 0
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "d.npz"), "--backend", "numpy",
                 "--json"]) == 0
    reference = json.loads(capsys.readouterr().out)

    def host_loader(*a, **k):
        raise AssertionError("the whole file was read on the host")

    monkeypatch.setattr(datasets, "load", host_loader)
    lazy = ["--backend", "dask", "--scheduler", cluster.scheduler_address, "--chunks", "150"]
    for out in ("p.csv", "p.npy"):
        assert main(["predict", "--model", str(model), "--data", str(d / name), "--out", str(tmp_path / out), *lazy]) == 0
    assert (tmp_path / "p.csv").read_text() == (tmp_path / "ref.csv").read_text()
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), np.load(tmp_path / "ref.npy"))
    capsys.readouterr()
    assert main(["predict", "--model", str(model), "--data", str(d / name), "--proba", *lazy]) == 0
    proba = np.loadtxt(capsys.readouterr().out.splitlines()[1:], delimiter=",")
    assert proba.shape == (500, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert main(["evaluate", "--model", str(model), "--data", str(d / name), "--json", *lazy]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["confusion_matrix"] == reference["confusion_matrix"] and report["n_samples"] == 500
    np.testing.assert_allclose(report["loss"], reference["loss"], rtol=1e-10)


def test_predict_and_evaluate_refuse_dask_options_without_the_dask_backend(tmp_path, capsys):
    from bpx.cli import main

    X, y = blobs(m=60)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    bpx.save(bpx.MLP([6, 3], backend="numpy"), str(model))
    for command in ("predict", "evaluate"):
        for option, value in (("--scheduler", "tcp://127.0.0.1:9"), ("--workers", "2"), ("--chunks", "10")):
            with pytest.raises(SystemExit) as exit_:
                main([command, "--model", str(model), "--data", str(tmp_path / "d.npz"), "--backend", "numpy",
                      option, value])
            assert exit_.value.code == 2
            assert capsys.readouterr().err.strip() == f"bpx {command}: error: argument {option}: applies to --backend dask only"
        with pytest.raises(SystemExit):
            main([command, "--model", str(model), "--data", str(tmp_path), "--backend", "numpy"])
        assert "is a directory, not a file" in capsys.readouterr().err


# -- docs/guide/dask.md does what it says (issue 27, item 13) ----------------------------------------------
DASK_GUIDE = os.path.join(os.path.dirname(__file__), "..", "docs", "guide", "dask.md")


def test_datasets_and_distributed_work_after_a_plain_import_bpx():
    """As dask.md uses them (its examples run in tests/test_readme.py)."""
    import subprocess
    import sys

    code = "import bpx; print(bpx.datasets.open_dask.__name__, bpx.distributed.connect.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0 and done.stdout.split() == ["open_dask", "connect"], done.stderr


def test_the_dask_guide_lists_sample_weights_and_dropout_as_offered():
    text = pathlib.Path(DASK_GUIDE).read_text(encoding="utf-8")
    assert "sample weights, dropout and L-BFGS on\ndask arrays" not in text
    offered = "Sample weights, dropout (masks drawn on the host, in the eager engine's order) and\nL-BFGS are offered on Dask"
    assert offered in text


def test_the_validation_graph_waits_like_a_step_and_a_stop_there_resumes_exactly(tmp_path, monkeypatch):
    """The end-of-epoch validation runs in the steps' watched wait (a cluster without workers warns, a
    stop request ends the wait); given up there, the run is checkpointed after its last step and a resume
    measures again, ending on the uninterrupted run's numbers."""
    import bpx.training.engines._distributed as engine
    from bpx.training import STOP

    X, y = blobs(60)
    Xv, yv = blobs(20, seed=1)
    Xd, yd, Xvd, yvd = (da.from_array(a, chunks=20) for a in (X, y, Xv, yv))

    def fit(**kwargs):
        net = bpx.MLP([6, 5, 3], backend="dask", seed=0)
        h = net.fit(Xd, yd, epochs=2, batch_size=20, optimizer=bpx.SGD(lr=0.1), verbose=0,
                    validation_data=(Xvd, yvd), **kwargs)
        return net, h

    ref, h_ref = fit()
    waits, give_up = [], []
    real = engine.compute

    def watched(graph, stop=None):
        if stop is None:  # not a step (the checkpoint's sampled rows)
            return real(graph)
        waits.append(stop)
        if give_up:  # the validation graph of epoch 2: a stop request arrives while it runs
            give_up.clear()
            stop.request("SIGTERM")
            return None
        return real(graph, stop)

    class AtLastStep(bpx.Callback):
        def on_epoch_begin(self, epoch):
            self.epoch = epoch

        def on_batch_end(self, batch, logs):
            if (self.epoch, batch) == (2, 2):
                give_up.append(True)

    monkeypatch.setattr(engine, "compute", watched)
    path = tmp_path / "run.ckpt"
    try:
        _, h = fit(checkpoint=path, callbacks=[AtLastStep()])
    finally:
        STOP.signal = None
    assert h.interrupted == "SIGTERM" and len(h) == 1
    assert len(waits) == 3 + 1 + 3 + 1  # epoch 1: 3 steps and the validation; epoch 2: 3 steps, then given up
    assert all(stop is STOP for stop in waits)
    net, h2 = fit(checkpoint=path, resume=True)
    assert h2.interrupted is None and h2.val_loss == h_ref.val_loss and h2.loss == h_ref.loss
    for p, q in zip(net.params, ref.params):
        assert np.array_equal(np.asarray(p), np.asarray(q))


@pytest.mark.parametrize("give_up_at", [1, 4], ids=["first-evaluation", "inside-a-line-search"])
def test_lbfgs_on_dask_gives_up_an_evaluation_on_a_stop_and_resumes_exactly(tmp_path, monkeypatch, give_up_at):
    """An L-BFGS evaluation given up on Dask (a stop request or a lost scheduler while its graph runs) undoes
    its iteration: the run stops where the last iteration left it, with its checkpoint, and a resume ends
    on the uninterrupted run's parameters, history and evaluation count. give_up_at=1: the evaluation at
    the starting point (nothing trained yet); give_up_at=4: the second evaluation of the second iteration's
    line search (evaluations: 1 at the start, 2 in iteration 1, 3 and 4 in iteration 2 on this data)."""
    import bpx.training.engines._distributed as engine
    from bpx.training import STOP

    X, y = blobs(60)
    Xd, yd = da.from_array(5.0 * X, chunks=20), da.from_array(y, chunks=20)

    def fit(**kwargs):
        net = bpx.MLP([6, 5, 3], backend="dask", seed=0)
        opt = bpx.LBFGS()
        return net, net.fit(Xd, yd, epochs=6, optimizer=opt, verbose=0, **kwargs), opt

    ref, h_ref, opt_ref = fit()
    real, evaluations = engine.compute, []

    def watched(graph, stop=None):
        if stop is not None:
            evaluations.append(True)
            if len(evaluations) == give_up_at:
                stop.request("SIGINT")
                return None
        return real(graph, stop)

    monkeypatch.setattr(engine, "compute", watched)
    path = tmp_path / "run.ckpt"
    try:
        stopped, h, _ = fit(checkpoint=path)
    finally:
        STOP.signal = None
    monkeypatch.setattr(engine, "compute", real)
    done = len(h)  # the iterations before the one whose evaluation was given up
    assert h.interrupted == "SIGINT" and done == {1: 0, 4: 1}[give_up_at]
    assert h.loss == h_ref.loss[:done]
    if done == 0:  # nothing trained: the starting parameters, untouched by the given-up evaluation
        fresh = bpx.MLP([6, 5, 3], backend="dask", seed=0)
        for p, q in zip(stopped.params, fresh.params):
            assert np.array_equal(np.asarray(p), np.asarray(q))
    net, h2, opt = fit(checkpoint=path, resume=True)
    assert h2.interrupted is None and h2.loss == h_ref.loss and len(h2) == len(h_ref)
    assert (opt.n_iter, opt.n_fun) == (opt_ref.n_iter, opt_ref.n_fun)
    for p, q in zip(net.params, ref.params):
        assert np.array_equal(np.asarray(p), np.asarray(q))


class _FakeFuture:
    """A dask.distributed future seen through the attributes the watched wait reads: ``status`` is
    "pending" for the first ``pending`` looks, then ``final``."""

    def __init__(self, final, pending=0, value=None):
        self.final, self.pending, self.value = final, pending, value

    @property
    def status(self):
        self.pending -= 1
        return "pending" if self.pending >= 0 else self.final

    def result(self, timeout=None):
        if self.final == "cancelled":
            raise concurrent.futures.CancelledError("scheduler-connection-lost")
        return self.value


class _FakeClient:
    status = "running"
    scheduler = types.SimpleNamespace(address="tcp://10.0.0.9:8786")

    def __init__(self, future, workers=1):
        self.future, self.workers = future, workers

    def compute(self, graph):
        return self.future

    def scheduler_info(self, n_workers=-1):
        return {"workers": {f"w{i}": {} for i in range(self.workers)}}

    def cancel(self, future):
        pass


def test_outside_a_step_a_lost_scheduler_is_an_error_and_no_workers_a_warning(monkeypatch):
    """The graphs that are not training steps (the data check, evaluate, predict's numbers, the
    checkpoint's sampled rows) wait as steps do, but nothing gives them up: a lost scheduler raises
    SchedulerLostError naming it (not a hang), a cluster without workers warns and the value still comes."""
    from bpx.training import STOP
    from bpx.training.engines import _cluster

    graph = dask.delayed(sum)([1, 2])
    monkeypatch.setattr(_cluster, "distributed_client", lambda g: _FakeClient(_FakeFuture("cancelled", pending=2)))
    with pytest.raises(bpx.SchedulerLostError, match=r"tcp://10\.0\.0\.9:8786.*scheduler-connection-lost"):
        _cluster.compute(graph)
    with pytest.warns(_cluster.SchedulerLostWarning, match="fit stopped"):  # a step: given up, the run kept
        assert _cluster.compute(graph, STOP) is None
    assert STOP.signal == _cluster.SCHEDULER_LOST
    STOP.signal = None
    assert isinstance(bpx.SchedulerLostError("x"), (bpx.BpxError, ConnectionError))

    client = _FakeClient(_FakeFuture("finished", pending=40, value=3), workers=0)
    monkeypatch.setattr(_cluster, "distributed_client", lambda g: client)
    with dask.config.set({"bpx.no-workers-timeout": 0}), \
            pytest.warns(_cluster.NoWorkersWarning, match="the computation waits for one .*interrupt it with Ctrl-C"):
        assert _cluster.compute(graph) == 3
    STOP.request("SIGINT")  # a stop request is a step's business: a computation outside one goes on
    try:
        client.future = _FakeFuture("finished", pending=3, value=[4, 5])
        client.workers = 1
        assert _cluster.compute([graph, graph]) == [4, 5]
    finally:
        STOP.signal = None
