"""``bpx.explain`` and ``bpx explain``: the 2-2-2 worked example, equation by equation, on every backend."""

import json
import re

import numpy as np
import pytest

import bpx
from bpx.cli import main
from bpx.tools._explain import MAX_SAMPLES, MAX_UNITS, explain, format_text, seed004_network

# Seed 004 / Mazur's published numbers, as printed (8 or 9 decimals).
OUTPUTS = ["0.75136507", "0.772928465"]
E_TOTAL = "0.298371109"
AFTER = {
    "w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
    "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121",
}
# What the seed's program prints where its math is right (its diagonal terms and the deltas).
PROGRAM = {"a1": [0.59326999, 0.59688438], "delta2": [0.13849856, -0.03809824], "dw5": 0.08216704,
           "hidden_sums": [0.03635031, 0.04137032], "a1_slope": [0.24130071, 0.24061342],
           "dw1": 0.00043857, "dw4": 0.00099543}

ABS = {"float64": 1e-9, "float32": 1e-5}


def close(value, text, dtype):
    """``value`` equals the printed number ``text`` to its printed precision plus the dtype's tolerance."""
    rounding = 0.5 * 10.0 ** -len(text.split(".")[1])
    return abs(value - float(text)) <= rounding + ABS[dtype]


def prints(text, published):
    """``text`` shows the published number, to its printed precision (bpx prints 9 decimals in float64)."""
    return any(close(float(n), published, "float64") for n in re.findall(r"-?\d+\.\d+", text))


def by_hand():
    """Seed 004's step in float64 numpy, with explicit outer products."""
    x, y = np.array([0.05, 0.10]), np.array([0.01, 0.99])
    W1, b1 = np.array([[0.15, 0.25], [0.20, 0.30]]), np.array([0.35, 0.35])
    W2, b2 = np.array([[0.40, 0.50], [0.45, 0.55]]), np.array([0.60, 0.60])
    h = 1 / (1 + np.exp(-(x @ W1 + b1)))
    o = 1 / (1 + np.exp(-(h @ W2 + b2)))
    d2 = (o - y) * o * (1 - o)
    d1 = (W2 @ d2) * h * (1 - h)
    return {"h": h, "o": o, "E": 0.5 * np.sum((o - y) ** 2), "d2": d2, "d1": d1,
            "W1": W1 - 0.5 * np.outer(x, d1), "b1": b1 - 0.5 * d1, "W2": W2 - 0.5 * np.outer(h, d2), "b2": b2 - 0.5 * d2}


def small_net(backend, dtype, sizes=(3, 4, 3)):
    return bpx.MLP(list(sizes), activation="tanh", output="softmax", loss="cross_entropy", backend=backend,
                   dtype=dtype, seed=1)


def small_data(m=3, n_in=3, n_out=3):
    rng = np.random.default_rng(4)
    return rng.standard_normal((m, n_in)), rng.integers(0, n_out, m)


# -- the library function ---------------------------------------------------------------------------

def test_default_report_is_seed004(backend, dtype):
    r = explain(backend=backend, dtype=dtype)
    assert (r.dtype, r.lr, r.m, r.seed004, r.layer_sizes) == (dtype, 0.5, 1, True, [2, 2, 2])
    out = r.layers[-1].a[0]
    assert close(out[0], OUTPUTS[0], dtype) and close(out[1], OUTPUTS[1], dtype), out
    assert close(r.cost, E_TOTAL, dtype), r.cost
    named = {w["name"]: w for w in r.named_weights()}
    assert list(named) == [f"w{k}" for k in range(1, 9)]
    for name, text in AFTER.items():
        assert close(named[name]["after"], text, dtype), (name, named[name]["after"])
    # the seed's naming: w1 = i1→h1, w2 = i2→h1 (h1 = w1·i1 + w2·i2), w5 = h1→o1, w6 = h2→o1
    assert [(named[n]["from"], named[n]["to"]) for n in ("w1", "w2", "w5", "w6")] == [
        ("i1", "h1"), ("i2", "h1"), ("h1", "o1"), ("h2", "o1")]
    assert [named[f"w{k}"]["before"] for k in range(1, 9)] == pytest.approx(
        [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55], abs=ABS[dtype])


def test_default_report_equals_the_math_worked_by_hand(backend, dtype):
    r, h = explain(backend=backend, dtype=dtype), by_hand()
    atol = ABS[dtype]
    hidden, output = r.layers
    np.testing.assert_allclose(hidden.a[0], h["h"], rtol=0, atol=atol)
    np.testing.assert_allclose(output.a[0], h["o"], rtol=0, atol=atol)
    assert r.cost == pytest.approx(h["E"], abs=atol)
    np.testing.assert_allclose(output.delta[0], h["d2"], rtol=0, atol=atol)  # BP1
    np.testing.assert_allclose(hidden.delta[0], h["d1"], rtol=0, atol=atol)  # BP2
    np.testing.assert_allclose(output.db, h["d2"], rtol=0, atol=atol)  # BP3
    for name, got in [("W1", hidden.W_new), ("b1", hidden.b_new), ("W2", output.W_new), ("b2", output.b_new)]:
        np.testing.assert_allclose(got, h[name], rtol=0, atol=atol, err_msg=name)
    assert r.cost_after < r.cost


def test_default_report_agrees_with_the_seed_program_where_its_math_is_right(backend, dtype):
    """The seed program's printout of a1, the output deltas, Σ δ·w, a(1−a) and the diagonal gradients."""
    r = explain(backend=backend, dtype=dtype)
    hidden, output = r.layers
    tol = 0.5e-8 + ABS[dtype]
    np.testing.assert_allclose(hidden.a[0], PROGRAM["a1"], rtol=0, atol=tol)
    np.testing.assert_allclose(output.delta[0], PROGRAM["delta2"], rtol=0, atol=tol)
    assert output.dW[0, 0] == pytest.approx(PROGRAM["dw5"], abs=tol)
    np.testing.assert_allclose(hidden.delta[0], np.multiply(PROGRAM["hidden_sums"], PROGRAM["a1_slope"]), rtol=0,
                               atol=1e-8 + ABS[dtype])
    assert hidden.dW[0, 0] == pytest.approx(PROGRAM["dw1"], abs=tol)
    assert hidden.dW[1, 1] == pytest.approx(PROGRAM["dw4"], abs=tol)


@pytest.mark.parametrize("case", ["seed004", "tanh_softmax"])
def test_report_is_what_the_network_computes(backend, dtype, to_input, case, tol):
    """The report's cost and gradients are net.loss_and_grads's, its new parameters a train_step's."""
    if case == "seed004":
        net, X, Y, lr = seed004_network(backend, dtype), np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]]), 0.5
    else:
        (X, Y), net, lr = small_data(), small_net(backend, dtype), 0.1
    r = explain(net, to_input(X), to_input(Y), lr=lr)
    cost, grads = net.loss_and_grads(to_input(X), to_input(Y))
    assert r.cost == cost
    assert len(r.grads) == len(grads) == 2 * len(net.layers)
    for got, want in zip(r.grads, grads):
        np.testing.assert_array_equal(got, bpx.to_numpy(want))
    stepped = net.copy()
    stepped.train_step(to_input(X), to_input(Y), bpx.SGD(lr=lr))
    for got, want in zip(r.params_after, stepped.params):
        if backend.library.compiled:  # train_step is compiled there: XLA may fuse (FMA), equal up to rounding
            np.testing.assert_allclose(got, bpx.to_numpy(want), **tol(dtype))
        else:
            np.testing.assert_array_equal(got, bpx.to_numpy(want))
    assert r.cost_after == pytest.approx(stepped.loss(to_input(X), to_input(Y)), rel=1e-12)
    assert r.dtype == dtype and r.backend == backend.spec


def test_callers_network_is_unchanged(backend, dtype, to_input):
    net = small_net(backend, dtype)
    before = [bpx.to_numpy(p).copy() for p in net.params]
    X, Y = small_data()
    explain(net, to_input(X), to_input(Y), lr=0.5)
    explain(net, to_input(X), to_input(Y), lr=0.5, dtype="float32")
    for got, want in zip(net.params, before):
        np.testing.assert_array_equal(bpx.to_numpy(got), want)
    assert net.optimizer is None and net.dtype == dtype


def test_text_lays_out_the_four_equations(backend, float64):
    text = str(explain(backend=backend))
    assert text == format_text(explain(backend=backend))
    for label in ["z[1] = a[0] @ W[1] + b[1]", "a[2] = sigmoid(z[2])", "BP1  δ[2]", "BP2  δ[1] = (δ[2] @ W[2]ᵀ)",
                  "BP3  ∂C/∂b[1]", "BP4  ∂C/∂W[2] = a[1]ᵀ @ δ[2]", "Step 4. Update"]:
        assert label in text, label
    assert text.index("BP1") < text.index("BP2") < text.index("Step 4")  # backward from the output layer down
    for number in [*OUTPUTS, E_TOTAL, *AFTER.values()]:
        assert prints(text, number), number
    assert "w2, w3, w6 and w7" in text  # the note on the seed program's bug


def test_big_networks_and_batches_are_refused(backend):
    wide = bpx.MLP([2, MAX_UNITS + 1, 2], activation="sigmoid", output="sigmoid", loss="mse", backend=backend)
    with pytest.raises(ValueError, match=f"at most {MAX_UNITS} units"):
        explain(wide, np.zeros((1, 2)), np.zeros((1, 2)))
    net = bpx.MLP([2, MAX_UNITS, 2], activation="sigmoid", output="sigmoid", loss="mse", backend=backend)
    with pytest.raises(ValueError, match=f"at most {MAX_SAMPLES}"):
        explain(net, np.zeros((MAX_SAMPLES + 1, 2)), np.zeros((MAX_SAMPLES + 1, 2)))
    assert explain(net, np.zeros((MAX_SAMPLES, 2)), np.zeros((MAX_SAMPLES, 2))).m == MAX_SAMPLES
    own = explain(None, np.zeros((2, 2)), np.zeros((2, 2)), backend=backend)  # the 2-2-2 worked example's network, other samples
    assert own.m == 2 and not own.seed004 and "Mazur" not in str(own)


def test_bad_arguments_are_refused(backend):
    net = seed004_network(backend)
    with pytest.raises(TypeError, match="net must be a bpx.MLP"):
        explain("net", [[0.0, 0.0]], [[0.0, 0.0]])
    with pytest.raises(TypeError, match="needs both X and Y"):
        explain(net, [[0.0, 0.0]])
    for lr in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lr must be"):
            explain(lr=lr, backend=backend)
    with pytest.raises(ValueError, match="X has 3 features per sample, but the network expects 2"):
        explain(net, [[0.0, 0.0, 0.0]], [[0.0, 0.0]])


# -- the command line -------------------------------------------------------------------------------

def run_cli(capsys, *argv):
    code = main(["explain", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_prints_the_seed_numbers_and_labels(backend, float64, capsys):
    code, out, err = run_cli(capsys, "--backend", backend.spec)
    assert code == 0 and err == ""
    assert f"backend {backend.spec}, float64" in out
    for label in ["BP1", "BP2", "BP3", "BP4"]:
        assert label in out
    for number in [*OUTPUTS, E_TOTAL, *AFTER.values()]:
        assert prints(out, number), number
    for number in ["0.751365070", "0.772928465", "0.298371109", "0.358916480", "0.149780716"]:
        assert number in out, number


def test_cli_json_has_the_same_numbers(backend, dtype, capsys):
    code, out, _ = run_cli(capsys, "--backend", backend.spec, "--dtype", dtype, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["network"] == {"layer_sizes": [2, 2, 2], "activation": "sigmoid", "output": "sigmoid", "loss": "mse",
                                 "backend": backend.spec, "dtype": dtype}
    assert report["example"] == "2-2-2 worked example" and report["lr"] == 0.5
    out_a = report["layers"][-1]["a"][0]
    assert close(out_a[0], OUTPUTS[0], dtype) and close(out_a[1], OUTPUTS[1], dtype)
    assert close(report["cost"], E_TOTAL, dtype)
    after = {w["name"]: w["after"] for w in report["weights"]}
    for name, text in AFTER.items():
        assert close(after[name], text, dtype), name
    assert report == explain(backend=backend, dtype=dtype).to_dict()


def test_cli_lr_changes_the_step(backend, float64, capsys):
    _, out, _ = run_cli(capsys, "--backend", backend.spec, "--lr", "0.25", "--json")
    report = json.loads(out)
    w5 = next(w for w in report["weights"] if w["name"] == "w5")
    assert w5["after"] == pytest.approx(0.40 - 0.25 * w5["grad"], abs=1e-15)
    assert w5["grad"] == pytest.approx(0.082167041, abs=1e-9)


@pytest.mark.parametrize("argv", [
    ["--lr", "0"], ["--lr", "nan"], ["--lr", "-1"], ["--dtype", "float16"], ["--rows", "2"], ["--model", "m.npz"],
    ["--data", "d.npz"], ["--model", "m.npz", "--data", "d.npz", "--rows", str(MAX_SAMPLES + 1)],
    ["--model", "m.npz", "--data", "d.npz", "--rows", "0"], ["--backend", "no_such_backend"], ["--bogus"],
])
def test_cli_bad_flags_exit_2_with_one_line(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["explain", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("bpx") and ": error: " in err, err  # unknown flags: "bpx: error"


def test_cli_float64_on_a_float32_only_backend_exits_2(backend, capsys):
    if backend.has_dtype("float64"):
        pytest.skip(f"{backend.spec} has float64")
    with pytest.raises(SystemExit) as exc:
        main(["explain", "--backend", backend.spec, "--dtype", "float64"])
    assert exc.value.code == 2 and "has no float64" in capsys.readouterr().err


@pytest.fixture
def saved(tmp_path, backend):
    """A small saved model and an .npz data file."""
    net = small_net(backend, "float32")
    model = tmp_path / "model.npz"
    bpx.save(net, model)
    X, y = small_data(m=6)
    data = tmp_path / "data.npz"
    np.savez(data, X=X, y=y)
    return net, model, data, X, y


def test_cli_explains_a_saved_model_on_its_first_rows(backend, dtype, saved, capsys):
    net, model, data, X, y = saved
    code, out, _ = run_cli(capsys, "--backend", backend.spec, "--dtype", dtype, "--model", str(model),
                           "--data", str(data), "--rows", "3", "--lr", "0.1", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["m"] == 3 and report["example"] is None and report["network"]["dtype"] == dtype
    work = net.copy(dtype=dtype)
    cost, grads = work.loss_and_grads(X[:3], y[:3])
    assert report["cost"] == cost
    for layer in report["layers"]:
        l = layer["l"] - 1
        np.testing.assert_array_equal(np.asarray(layer["dW"], dtype=dtype), bpx.to_numpy(grads[2 * l]))
        np.testing.assert_array_equal(np.asarray(layer["db"], dtype=dtype), bpx.to_numpy(grads[2 * l + 1]))
    code, out, _ = run_cli(capsys, "--backend", backend.spec, "--dtype", dtype, "--model", str(model), "--data", str(data))
    assert code == 0 and "m = 1 sample;" in out and "softmax output with cross_entropy" in out
    code, out, _ = run_cli(capsys, "--backend", backend.spec, "--model", str(model), "--data", str(data), "--json")
    assert code == 0 and json.loads(out)["network"]["dtype"] == "float32"  # the saved model's own dtype by default


def test_cli_refuses_bad_data_and_big_models(backend, saved, tmp_path, capsys):
    net, model, data, X, y = saved
    model_bytes, data_bytes = model.read_bytes(), data.read_bytes()
    cases = []
    no_y = tmp_path / "no_y.npz"
    np.savez(no_y, X=X)
    cases.append((["--model", str(model), "--data", str(no_y)], "has no array y"))
    cases.append((["--model", str(model), "--data", str(data), "--rows", "4"], None))  # fine: 6 rows
    short = tmp_path / "short.npz"
    np.savez(short, X=X[:2], y=y[:2])
    cases.append((["--model", str(model), "--data", str(short), "--rows", "3"], "has only 2 rows"))
    text = tmp_path / "text.npz"
    text.write_text("not a zip file\n")
    cases.append((["--model", str(model), "--data", str(text)], "not a readable .npz file"))
    cases.append((["--model", str(model), "--data", str(tmp_path / "missing.npz")], "no such file"))
    cases.append((["--model", str(tmp_path / "missing.npz"), "--data", str(data)], "missing.npz"))
    wide = tmp_path / "wide.npz"
    bpx.save(small_net(backend, "float32", sizes=(3, MAX_UNITS + 1, 3)), wide)
    cases.append((["--model", str(wide), "--data", str(data)], f"at most {MAX_UNITS} units"))
    for argv, message in cases:
        code, out, err = run_cli(capsys, "--backend", backend.spec, "--dtype", "float32", *argv)
        if message is None:
            assert code == 0 and err == "", err
            continue
        assert code == 1 and out == "", argv
        assert err.count("\n") == 1 and err.startswith("bpx explain: error:") and message in err, err
    assert model.read_bytes() == model_bytes and data.read_bytes() == data_bytes  # the user's files are untouched
