"""The benchmark harness (bpx.bench, ``bpx bench``) and the fast paths it measures.

No timing is asserted anywhere: these tests check that the harness runs and writes well-formed
output, that its hand-written NumPy peer does the same work as bpx, and that every fast path gives
the same numbers as the generic array-API path (docs/development/architecture.md, "Fast paths are allowed, and are measured").
"""

import json

import numpy as np
import pytest

import bpx
import bpx.tools._bench as bench
from bpx.backends._backend import fast_paths
from bpx.cli import main

NETWORKS = [  # hidden activation, output, loss: every fast path (relu mask, sigmoid, tanh, fused and unfused deltas)
    ("relu", "softmax", "cross_entropy"),
    ("sigmoid", "sigmoid", "binary_cross_entropy"),
    ("tanh", "sigmoid", "mse"),
    ("sigmoid", "identity", "mse"),
    ("leaky_relu", "softmax", "cross_entropy"),
]


def _data(n=48, n_in=6, n_out=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in))
    labels = rng.integers(0, n_out, n)
    Y = np.eye(n_out)[labels]
    return X, Y


@pytest.mark.parametrize("dropout", [0.0, 0.25], ids=["no-dropout", "dropout"])
@pytest.mark.parametrize("activation,output,loss", NETWORKS)
def test_fast_paths_give_the_same_numbers_as_the_generic_path(backend, dtype, to_input, activation, output, loss, dropout):
    X, Y = _data()
    runs = []
    for enabled in (True, False):
        net = bpx.MLP([6, 8, 5, 3], activation=activation, output=output, loss=loss, backend=backend, dtype=dtype, seed=3,
                      dropout=dropout)
        with fast_paths(enabled):
            history = net.fit(to_input(X), to_input(Y), epochs=3, batch_size=10, optimizer=bpx.SGD(lr=0.1, momentum=0.5),
                              verbose=0)
            cost, grads = net.loss_and_grads(to_input(X), to_input(Y))
            out = bpx.to_numpy(net.forward(to_input(X)))
        runs.append(([bpx.to_numpy(p) for p in net.params], [bpx.to_numpy(g) for g in grads], cost, out, history))
    (p1, g1, c1, o1, h1), (p0, g0, c0, o0, h0) = runs
    for a, b in zip(p1 + g1 + [o1], p0 + g0 + [o0]):
        np.testing.assert_array_equal(a, b)
    assert c1 == c0
    assert h1.loss == h0.loss  # the epoch losses and accuracies, exactly
    assert h1.accuracy == h0.accuracy


def test_fast_paths_are_off_inside_the_context_and_back_on_after(backend):
    from bpx.backends._backend import inplace_ok

    x = backend.asarray(np.zeros(3), "float32")
    with fast_paths(False):
        assert not inplace_ok(x)
    assert inplace_ok(x) == (backend.name in ("numpy", "cupy", "torch", "dask"))  # dask: NumPy parameters


def test_accuracy_counted_in_chunks_equals_per_batch_count(backend, to_input, monkeypatch):
    import bpx.training.engines._eager as eager

    X, Y = _data(n=50)
    histories = []
    for chunk in (1, 1 << 20):  # one count per batch, one count per epoch
        monkeypatch.setattr(eager, "ACCURACY_CHUNK", chunk)
        net = bpx.MLP([6, 7, 3], backend=backend, seed=1)
        histories.append(net.fit(to_input(X), to_input(Y), epochs=2, batch_size=7, optimizer=bpx.SGD(lr=0.2), verbose=0))
    assert histories[0].accuracy == histories[1].accuracy
    assert histories[0].loss == histories[1].loss


@pytest.mark.parametrize("activation,output,loss", [("relu", "softmax", "cross_entropy"), ("sigmoid", "sigmoid", "mse")])
def test_hand_loop_does_the_same_work_as_bpx(backend, dtype, tol, to_input, activation, output, loss):
    """The benchmark's hand-written NumPy peer reaches the same parameters as bpx after a few steps."""
    X, Y = _data(n=40, n_out=3 if output == "softmax" else 2)
    net = bpx.MLP([6, 9, 7, Y.shape[1]], activation=activation, output=output, loss=loss, backend=backend, dtype=dtype)
    hand = bench.HandLoop([bpx.to_numpy(p) for p in net.params], activation=activation, output=output, lr=0.3)
    history = net.fit(to_input(X), to_input(Y), epochs=1, batch_size=8, optimizer=bpx.SGD(lr=0.3), shuffle=False, verbose=0)
    total = hand.epoch(X.astype(dtype), Y.astype(dtype), 8)
    for a, b in zip(net.params, hand.params):
        np.testing.assert_allclose(bpx.to_numpy(a), b, **tol(dtype))
    assert history.loss[0] == pytest.approx(total / X.shape[0], rel=1e-4 if dtype == "float32" else 1e-10)


def test_step_flops_counts_every_gemm():
    # 784-512-10, m=256: forward 2 GEMMs, dW 2 GEMMs, dA for the second layer only
    sizes, m = [784, 512, 10], 256
    expected = 2 * m * (784 * 512 + 512 * 10) * 2 + 2 * m * 512 * 10
    assert bench.step_flops(sizes, m) == expected
    assert len(bench.gemm_shapes(sizes, m)) == 5


def _quick_report(backend):
    peers = ["hand", "roof"]
    try:
        import torch  # noqa: F401

        peers.append("torch:cpu")
    except ImportError:
        pass
    dtypes = ("float32", "float64") if backend.has_dtype("float64") else ("float32",)
    # one BLAS thread: tiny multi-threaded GEMMs crawl on a busy 2-core machine, and this only checks the plumbing
    return bench.run(workloads=("a", "b", "c", "d"), specs=[backend.spec], peers=peers + ["sklearn"], repeats=1, warmup=1,
                     quick=True, tiny_steps=20, samples=96, sweep_widths=(8, 16), sweep_batches=(16,), sweep_dtypes=dtypes,
                     threads=1)


def test_harness_runs_and_reports(backend, tmp_path):
    report = _quick_report(backend)
    impls = {(r["workload"], r["impl"]) for r in report["results"]}
    assert ("a", f"bpx[{backend.spec}]") in impls and ("a", "numpy hand loop") in impls
    assert ("b", "numpy GEMM roof") in impls and ("b", "sklearn MLPClassifier") in impls
    assert {r["sizes"][1] for r in report["results"] if r["workload"] == "c"} == {8, 16}
    assert ("d", f"bpx[{backend.spec}]") in impls
    compiled = [r for r in report["results"] if "compile_s" in r]  # reported apart, for compiling backends only
    assert {r["impl"] for r in compiled} == ({f"bpx[{backend.spec}]"} if backend.library.compiled else set())
    assert all(r["first_call_s"] >= r["compile_s"] >= 0 for r in compiled)
    for r in report["results"]:
        assert r["samples_per_s"] > 0 and np.isfinite(r["samples_per_s"])
    assert report["machine"]["cores"] >= 1 and "numpy" in report["machine"]["versions"]

    table = bench.format_table(report)
    for heading in ("### (a) tiny", "### (b) standard", "### (c) sweep", "### (d) digits", "Machine:", "BLAS:"):
        assert heading in table
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert rows and all(line.endswith("|") for line in rows)

    path = tmp_path / "bench.json"
    bench.write_json(report, path)
    assert json.loads(path.read_text())["results"] == json.loads(json.dumps(report["results"]))

    png = tmp_path / "bench.png"
    bench.plot(report, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_writes_table_json_and_plot(backend, tmp_path, capsys):
    out, js, png = tmp_path / "t.md", tmp_path / "r.json", tmp_path / "p.png"
    code = main(["bench", "--quick", "--workloads", "b", "--backends", backend.spec, "--peers", "hand,roof",
                 "--samples", "64", "--repeats", "1", "--threads", "1", "-q",
                 "--output", str(out), "--json", str(js), "--plot", str(png)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "### (b) standard" in printed and out.read_text() in printed
    assert json.loads(js.read_text())["config"]["workloads"] == ["b"]
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,message", [
    (["--workloads", "z"], "workloads must be among"),
    (["--backends", "nonesuch"], "is unknown"),
    (["--peers", "matlab"], "--peers takes"),
    (["--dtypes", "float16"], "--dtypes takes"),
])
def test_cli_bench_refuses_bad_arguments_before_any_work(argv, message, capsys):
    assert main(["bench", "--quick", "-q", *argv]) == 1
    assert message in capsys.readouterr().err


# -- your own network: bpx bench --hidden / --model (bench.run_network) --------------------------------
def test_run_network_reports_every_backend_against_the_fastest_and_its_own_roof(backend, tmp_path):
    specs = list(dict.fromkeys([backend.spec, "numpy"]))
    report = bench.run_network([5, 6, 3], batch=4, dtype="float32", specs=specs, steps=2, repeats=1, threads=1)
    rows = {r["impl"]: r for r in report["results"]}
    assert set(rows) == {f"bpx[{s}]" for s in specs}
    for r in rows.values():
        assert r["workload"] == "net" and r["steps"] == 2 and r["samples"] == 8 and r["batch"] == 4
        assert r["samples_per_s"] > 0 and 0 < r["vs_fastest"] <= 1
        assert ("roof_fraction" in r) == (not bpx.get_backend(r["spec"]).library.lazy)
        assert ("compile_s" in r) == bpx.get_backend(r["spec"]).library.compiled
    assert max(r["vs_fastest"] for r in rows.values()) == 1.0
    assert [r["samples_per_s"] for r in report["results"]] == sorted((r["samples_per_s"] for r in rows.values()),
                                                                   reverse=True)
    assert report["config"]["sizes"] == [5, 6, 3] and report["config"]["workloads"] == ["net"]
    table = bench.format_table(report)
    assert "### MLP 5-6-3, relu / softmax + cross_entropy, SGD, batch 4, float32, 2 steps" in table
    assert sum(line.startswith("| bpx[") for line in table.splitlines()) == len(specs)
    png = tmp_path / "net.png"
    bench.plot(report, png)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_run_network_records_a_backend_that_cannot_run_and_times_the_rest(backend):
    report = bench.run_network([3, 2], batch=2, dtype="float32", specs=[backend.spec, "nonesuch"], steps=1, repeats=1)
    failed = [r for r in report["results"] if "error" in r]
    assert [r["impl"] for r in failed] == ["bpx[nonesuch]"] and "is unknown" in failed[0]["error"]
    assert any(r["impl"] == f"bpx[{backend.spec}]" and r["vs_fastest"] == 1.0 for r in report["results"])
    assert "failed: " in bench.format_table(report)


@pytest.mark.parametrize("kwargs,message", [({"sizes": [3]}, "at least the input and output"),
                                            ({"dtype": "float16"}, "dtype must be")])
def test_run_network_refuses_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.run_network(**{"sizes": [3, 2], "batch": 2, **kwargs})


def test_cli_bench_hidden_writes_table_json_and_plot(backend, tmp_path, capsys):
    out, js, png = tmp_path / "t.md", tmp_path / "r.json", tmp_path / "p.png"
    code = main(["bench", "--hidden", "6,5", "--features", "4", "--classes", "3", "--batch", "8", "--dtype", "float32",
                 "--steps", "2", "--backends", backend.spec, "--repeats", "1", "--threads", "1", "-q",
                 "--output", str(out), "--json", str(js), "--plot", str(png)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "### MLP 4-6-5-3" in printed and out.read_text() in printed
    report = json.loads(js.read_text())
    assert report["config"]["sizes"] == [4, 6, 5, 3] and report["config"]["batch"] == 8
    assert [r["impl"] for r in report["results"]] == [f"bpx[{backend.spec}]"]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_bench_model_times_the_saved_architecture(backend, tmp_path, capsys):
    path = tmp_path / "m.npz"
    bpx.save(bpx.MLP([3, 4, 2], activation="tanh", output="sigmoid", loss="mse", backend="numpy", dtype="float64"), path)
    js = tmp_path / "r.json"
    assert main(["bench", "--model", str(path), "--batch", "4", "--steps", "1", "--repeats", "1", "--backends",
                 backend.spec, "--peers", "hand", "-q", "--json", str(js)]) == 0
    config = json.loads(js.read_text())["config"]
    assert (config["sizes"], config["activation"], config["output"], config["loss"]) == ([3, 4, 2], "tanh", "sigmoid", "mse")
    assert config["dtype"] == ("float64" if backend.has_dtype("float64") else config["dtype"]) and not config["roof"]
    assert "### MLP 3-4-2" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--hidden", "4", "--model", "x.npz"], "no such file"),
    (["--hidden", "4,x"], "expected a positive integer"),
    (["--hidden", "4", "--batch", "0"], "expected a positive integer"),
    (["--hidden", "4", "--dtype", "float16"], "invalid choice"),
])
def test_cli_bench_hidden_refuses_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "-q", *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_cli_bench_hidden_and_model_together_is_an_error(tmp_path, capsys):
    path = tmp_path / "m.npz"
    bpx.save(bpx.MLP([3, 2], backend="numpy"), path)
    assert main(["bench", "-q", "--hidden", "4", "--model", str(path)]) == 1
    assert "not both" in capsys.readouterr().err


def test_cpu_clock_is_recorded_and_restored(backend):
    with bench.clock("cpu"):
        report = bench.run_network([3, 2], batch=2, specs=[backend.spec], steps=1, repeats=1, roof=False)
        assert bench._CLOCK["name"] == "cpu"
    assert bench._CLOCK["name"] == "wall" and report["config"]["clock"] == "cpu"
    assert "clock: this process's CPU time" in bench.format_table(report)
    with pytest.raises(ValueError, match="clock must be one of"):
        with bench.clock("sundial"):
            pass


# -- tools that tell the truth (issue 27 items 10 and 11) ---------------------------------------------
def test_a_fraction_of_roof_is_never_above_one():
    assert bench.roof_figures(5.0, 10.0, "numpy GEMM roof") == {"roof": "numpy GEMM roof", "roof_gflops": 10.0,
                                                                 "roof_fraction": 0.5}
    capped = bench.roof_figures(12.0, 10.0, "bpx[jax] GEMM roof")  # the roof measured low: it is the step's rate
    assert capped["roof_fraction"] == 1.0 and capped["roof_gflops"] == 12.0
    assert capped["roof_capped"] is True and capped["roof_measured_gflops"] == 10.0


def test_a_compiling_backend_is_measured_against_its_own_compiled_roof(tmp_path):
    jax_backend = pytest.importorskip("jax") and bpx.get_backend("jax")
    report = bench.run(workloads=["b"], specs=["numpy", "jax"], peers=["roof"], quick=True, repeats=1, samples=64)
    rows = {r["impl"]: r for r in report["results"]}
    assert rows["bpx[jax]"]["roof"] == "bpx[jax] GEMM roof" and "bpx[jax] GEMM roof" in rows
    assert rows["bpx[numpy]"]["roof"] == "numpy GEMM roof"
    assert all(r["roof_fraction"] <= 1.0 for r in report["results"] if "roof_fraction" in r)
    roof = bench.own_roof_fn(jax_backend, [5, 4, 3], 2, "float32", inner=3)
    roof()  # compiled once, then it runs the step's GEMMs three times as one loop
    table = bench.format_table(report)
    assert "fraction of own GEMM roof" in table and "XLA compiled for bpx[jax]" in table
    assert "issue" not in table.lower()


@pytest.mark.parametrize("which", ["network", "workloads"])
def test_plots_draw_bars_on_a_linear_axis_from_zero(which, tmp_path, monkeypatch):
    import matplotlib.figure

    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    machine = {"cpu": "cpu", "cores": 1}
    if which == "network":
        results = [{"impl": "bpx[numpy]", "samples_per_s": 1000.0, "vs_fastest": 1.0, "roof_fraction": 0.5},
                   {"impl": "bpx[jax]", "samples_per_s": 380.0, "vs_fastest": 0.38}]
        report = {"machine": machine, "config": {"workloads": ["net"], "sizes": [3, 2], "batch": 2, "dtype": "float32"},
                  "results": results}
    else:
        results = [{"workload": "b", "impl": "bpx[numpy]", "samples_per_s": 1000.0},
                   {"workload": "b", "impl": "torch[cpu]", "samples_per_s": 380.0}]
        report = {"machine": machine, "config": {"workloads": ["b"]}, "results": results}
    bench.plot(report, tmp_path / "p.png")
    [fig] = figures
    for ax in fig.axes:
        assert ax.get_xscale() == "linear" and ax.get_xlim()[0] == 0
        widths = sorted(p.get_width() for p in ax.patches)
        assert widths == [380.0, 1000.0]  # a bar's length is its value: 0.38 of the other


def _run_script():
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("benchmarks_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("argv,where", [
    (["--json=OUT/r.json"], {"json": "OUT/r.json", "output": "HERE/results.md", "plot": "HERE/results.png"}),
    (["--quick"], {"json": "HERE/quick/results.json", "output": "HERE/quick/results.md", "plot": "HERE/quick/results.png"}),
    (["--quick", "--results-dir", "OUT"], {"json": "OUT/results.json", "output": "OUT/results.md", "plot": "OUT/results.png"}),
    (["--hidden", "8", "--output=OUT/t.md"], {"output": "OUT/t.md", "json": "HERE/quick/results.json"}),
])
def test_benchmarks_run_writes_where_it_is_told_and_never_over_the_committed_results_on_a_quick_run(
        argv, where, tmp_path, monkeypatch):
    import bpx.cli.bench as bench_cli

    seen = []
    monkeypatch.setattr(bench_cli, "run", lambda args: seen.append(args) or 0)
    script = _run_script()
    monkeypatch.setattr(script, "HERE", tmp_path / "bench")
    assert script.run([a.replace("OUT", str(tmp_path / "out")) for a in argv]) == 0
    [args] = seen
    for name, path in where.items():
        expected = path.replace("HERE", str(tmp_path / "bench")).replace("OUT", str(tmp_path / "out"))
        assert str(getattr(args, name)) == expected


def test_benchmarks_run_help_says_its_own_name(capsys):
    with pytest.raises(SystemExit):
        _run_script().run(["--help"])
    assert capsys.readouterr().out.startswith("usage: python benchmarks/run.py")
