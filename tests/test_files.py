"""Nothing lost: no output of any command overwrites an input (real paths, symlinks resolved), a run that
finished is never thrown away, and every install hint bpx prints names the right distribution."""

import json
import os
import re

import numpy as np
import pytest

import bpx
from bpx import datasets
from bpx.cli import main
from bpx.utils import output_clash, regular_file_problem

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(capsys, *argv):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def table(tmp_path):
    """A small labelled CSV (and its bytes, to check it survives)."""
    d = datasets.load_digits()
    path = tmp_path / "t.csv"
    rows = ["a,b,c,d,label"] + [",".join(str(int(v)) for v in x[:4]) + f",{int(t) % 2}" for x, t in zip(d.X[:60], d.y[:60])]
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def model(tmp_path, backend):
    net = bpx.MLP([4, 3, 2], backend=backend.spec, seed=0)
    net.metadata = {"preprocessing": {"scaling": {"method": "none"}}}
    bpx.save(net, tmp_path / "m.npz")
    return tmp_path / "m.npz"


def _train_case(tmp_path, table, flag):
    link = tmp_path / "link.csv"
    if not link.exists():
        link.symlink_to(table)
    return {
        "out": ["--data", table, "--out", table],
        "log": ["--data", table, "--log", table],
        "checkpoint": ["--data", table, "--checkpoint", f"./{os.path.relpath(table)}"],
        "out-test-data": ["--data", table, "--test-data", table.with_name("t2.csv"), "--out", table.with_name("t2.csv")],
        "out-symlink": ["--data", table, "--out", link],
        "plot": ["--data", table, "--plot", link],
        "out-is-init-from": ["--data", table, "--init-from", table.with_name("m.npz"), "--out", table.with_name("m.npz")],
    }[flag]


@pytest.mark.parametrize("flag", ["out", "log", "checkpoint", "out-test-data", "out-symlink", "plot", "out-is-init-from"])
def test_train_never_overwrites_an_input(capsys, tmp_path, table, model, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t2.csv").write_bytes(table.read_bytes())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and not p.is_symlink()}
    argv = _train_case(tmp_path, table, flag)
    status, out, err = run_cli(capsys, "train", *argv, "--epochs", 1, "--verbose", 0)
    assert status == 2, err
    assert "the same file as" in err and "never overwrites an input" in err
    assert out == ""  # before any work: no "data:" line
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file() and not p.is_symlink()}
    assert after == before


@pytest.mark.parametrize("command", ["predict", "export", "bench"])
def test_other_commands_never_overwrite_an_input(capsys, tmp_path, table, model, command):
    link = tmp_path / "m-link.npz"
    link.symlink_to(model)
    argv = {"predict": ["predict", "--model", model, "--data", table, "--out", table.with_suffix(".csv")],
            "export": ["export", "--model", model, "--out", tmp_path / "m.onnx"],
            "bench": ["bench", "--model", model, "--output", link]}[command]
    if command == "export":  # an .onnx name that is the model (through a symlink)
        (tmp_path / "m.onnx").symlink_to(model)
    before = model.read_bytes(), table.read_bytes()
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and "the same file as" in err, err
    assert (model.read_bytes(), table.read_bytes()) == before


def test_output_clash_compares_real_paths(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("x\n")
    (tmp_path / "sub").mkdir()
    os.link(data, tmp_path / "hard.csv")
    assert output_clash({"--out": tmp_path / "sub" / ".." / "d.csv"}, {"--data": data}).startswith("--out: the same")
    assert output_clash({"--out": tmp_path / "hard.csv"}, {"--data": data}) is not None
    assert output_clash({"--out": tmp_path / "o.npz", "--log": tmp_path / "o.npz"}, {}) == \
        f"--log: the same file as --out ({tmp_path / 'o.npz'})"
    assert output_clash({"--out": tmp_path / "o.npz", "--log": None}, {"--data": data, "--test-data": None}) is None


def test_regular_file_problem(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "gone").symlink_to(tmp_path / "nothing")
    assert regular_file_problem(tmp_path) == "not a regular file (a directory)"
    assert regular_file_problem(fifo) == "not a regular file (a FIFO (named pipe))"
    assert regular_file_problem(tmp_path / "zero") == "not a regular file (a character device)"
    assert regular_file_problem(tmp_path / "missing") == "no such file"
    assert regular_file_problem(tmp_path / "gone") == "no such file (a broken symbolic link)"


# -- the install name ---------------------------------------------------------------------------------------
def test_no_install_hint_names_the_wrong_distribution():
    """``bpx`` on the package index is another project: every hint names bpx-backprop (or the checkout)."""
    wrong = re.compile(r"""pip install ['"]?bpx(\[|['"\s]|$)""")
    found = []
    for folder, _, files in os.walk(os.path.join(ROOT, "bpx")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    found += [f"{os.path.relpath(path, ROOT)}:{n}" for n, line in enumerate(f, 1) if wrong.search(line)]
    assert found == []


def test_install_hint_and_project_name():
    from bpx.utils._extras import DISTRIBUTION, install_hint

    assert install_hint("torch") == "pip install 'bpx-backprop[torch]' (from a checkout: pip install '.[torch]')"
    pyproject = os.path.join(ROOT, "pyproject.toml")
    if not os.path.exists(pyproject):
        pytest.skip("not a checkout")
    with open(pyproject) as f:
        assert re.search(rf'^name = "{DISTRIBUTION}"$', f.read(), re.M)


def test_missing_onnx_gives_the_install_hint(capsys, tmp_path, model, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    status, _, err = run_cli(capsys, "export", "--model", model, "--out", tmp_path / "m.onnx")
    assert status == 1
    assert "pip install 'bpx-backprop[onnx]'" in err and "No module named" not in err.split("(")[0]


# -- a finished run is never thrown away --------------------------------------------------------------------
def test_empty_stratified_test_split_is_refused_before_training(capsys, tmp_path):
    data = tmp_path / "one-each.csv"
    data.write_text("a,b,label\n" + "".join(f"{i},{i * 2},{c}\n" for i, c in enumerate("pqrs")))
    status, out, err = run_cli(capsys, "train", "--data", data, "--out", tmp_path / "m.npz", "--epochs", 2,
                               "--verbose", 0, "--backend", "numpy")  # the host loader (tests/test_dask.py: lazy)
    assert status == 1
    assert "--test-split 0.2 leaves 4 training and 0 test rows (every class has a single row)" in err
    assert "model:" not in out  # refused before the network was built and trained
    assert sorted(os.listdir(tmp_path)) == ["one-each.csv"]


def test_failure_after_training_keeps_the_model_and_checkpoint(capsys, tmp_path, table, monkeypatch):
    calls = []

    def failing_evaluate(self, X, Y):
        calls.append(len(X))
        raise ValueError("evaluation broke")

    monkeypatch.setattr(bpx.MLP, "evaluate", failing_evaluate)
    out = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--data", table, "--out", out, "--epochs", 3, "--verbose", 0,
                             "--backend", "numpy")
    assert status == 1 and calls == [48]  # the training rows, after all 3 epochs
    assert "training finished after 3 epoch(s), then failed: evaluation broke" in err
    assert f"the trained model is saved to {out}" in err and f"the checkpoint is kept at {out}.ckpt" in err
    net = bpx.load(out, backend="numpy")
    assert net.metadata["training"]["epochs_run"] == 3
    assert os.path.exists(f"{out}.ckpt")


def test_ctrl_c_while_measuring_after_training_keeps_the_model(capsys, tmp_path, table, monkeypatch):
    """Ctrl-C after training (the final evaluation, e.g. waiting on a Dask cluster without workers) is a
    failure like any other: the model is saved first and the message says so."""
    def interrupted_evaluate(self, X, Y):
        raise KeyboardInterrupt

    monkeypatch.setattr(bpx.MLP, "evaluate", interrupted_evaluate)
    out = tmp_path / "m.npz"
    status, _, err = run_cli(capsys, "train", "--data", table, "--out", out, "--epochs", 2, "--verbose", 0,
                             "--backend", "numpy")
    assert status == 1
    assert "training finished after 2 epoch(s), then interrupted (Ctrl-C)" in err
    assert f"the trained model is saved to {out}" in err
    assert bpx.load(out, backend="numpy").metadata["training"]["epochs_run"] == 2


def test_fit_refuses_a_checkpoint_beyond_its_epochs(tmp_path):
    """fit(epochs=2, resume=True) on a 6-epoch checkpoint: an error, not the 6-epoch model returned silently."""
    from bpx import CheckpointError

    X = np.random.default_rng(0).normal(size=(24, 4))
    y = np.arange(24) % 3
    path = tmp_path / "run.ckpt"
    bpx.MLP([4, 5, 3], backend="numpy", seed=0).fit(X, y, epochs=6, batch_size=8, verbose=0, checkpoint=path)
    net = bpx.MLP([4, 5, 3], backend="numpy", seed=0)
    before = [np.array(p) for p in net.params]
    with pytest.raises(CheckpointError, match="already holds 6 complete epochs, more than epochs=2; .* give epochs=6"):
        net.fit(X, y, epochs=2, batch_size=8, verbose=0, checkpoint=path, resume=True)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, net.params))
    history = net.fit(X, y, epochs=6, batch_size=8, verbose=0, checkpoint=path, resume=True)
    assert len(history) == 6 and history.resumed_from == 6


def test_train_resume_on_other_data_of_the_same_shape_is_refused(capsys, tmp_path, backend):
    """``bpx train --resume`` after the table changed in place (same rows, columns and medians, no
    scaling statistics: nothing the command's own settings record) is refused by the checkpoint's data
    fingerprint with the usual one-line error, the model and checkpoint untouched; the original table
    resumes."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 16, (60, 4))
    table = tmp_path / "t.csv"

    def write(first):
        rows = [f"{a},{b},{c},{d},{int(a > 7)}" for a, b, c, d in np.column_stack([first, X[:, 1:]])]
        table.write_text("a,b,c,d,label\n" + "\n".join(rows) + "\n")

    def train(epochs, *resume):
        return run_cli(capsys, "train", "--data", table, "--out", tmp_path / "m.npz", "--epochs", epochs, "--scale",
                       "none", "--checkpoint", tmp_path / "run.ckpt", *resume, "--verbose", 0, "--backend", backend.spec)

    write(X[:, 0])
    status, _, err = train(2)
    assert status == 0, err
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "t.csv"}
    write(np.where(X[:, 0] == 15, 16, X[:, 0]))  # the largest values larger: every median and label the same
    status, _, err = train(3, "--resume")
    assert status == 1
    assert re.fullmatch(r"bpx train: error: .*run\.ckpt: the checkpoint is of another run: the training data "
                        r"\(X, Y and sample_weight\) differ \(fingerprint [0-9a-f]{12} in the checkpoint, fingerprint "
                        r"[0-9a-f]{12} in this fit\); resume with the same .*\n", err), err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "t.csv"} == files
    write(X[:, 0])
    status, out, err = train(3, "--resume")
    assert status == 0, err
    assert "holds 2 complete epoch(s); on to 3" in out


# -- messages ---------------------------------------------------------------------------------------------------
def test_unregistered_activation_is_named_once(tmp_path):
    from bpx.io._persistence import checksum

    net = bpx.MLP([3, 4, 2], backend="numpy")
    bpx.save(net, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = dict(json.loads(arrays.pop("header").tobytes()), activation="my_act")
    header["sha256"] = checksum(header, [arrays[n] for n in header["arrays"]])
    np.savez(tmp_path / "m.npz", header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    with pytest.raises(bpx.ModelFileError, match="the model's hidden activation 'my_act' is not registered") as info:
        bpx.load(tmp_path / "m.npz")
    assert "activation activation" not in str(info.value)


@pytest.mark.parametrize("argv,message", [
    (["--optimizer", "lbfgs", "--batch-size", "16"], "argument --batch-size: 16 does not apply to --optimizer lbfgs"),
    (["--hidden", "4,,4"], "argument --hidden: expected comma-separated positive integers such as 64,32, got '4,,4'"),
    (["--hidden", ",4,"], "argument --hidden: expected comma-separated positive integers such as 64,32, got ',4,'"),
])
def test_flags_that_were_silently_misread_are_refused(capsys, tmp_path, argv, message):
    status, _, err = run_cli(capsys, "train", "--out", tmp_path / "m.npz", "--epochs", 1, *argv)
    assert status == 2 and message in err
    assert not (tmp_path / "m.npz").exists()


def test_lbfgs_with_full_batch_is_accepted(capsys, tmp_path, table):
    status, _, err = run_cli(capsys, "train", "--data", table, "--out", tmp_path / "m.npz", "--epochs", 2,
                             "--optimizer", "lbfgs", "--batch-size", "full", "--verbose", 0, "--backend", "numpy")
    assert status == 0, err


def test_explain_on_a_csv_does_not_talk_about_pickles(capsys, tmp_path, table, model):
    status, _, err = run_cli(capsys, "explain", "--model", model, "--data", table)
    assert status == 1
    assert "is not a readable .npz file (bpx explain reads the arrays X and y of an .npz" in err
    assert "pickle" not in err


def test_label_errors_name_the_file_and_the_csv_row(capsys, tmp_path, model):
    data = tmp_path / "frac.csv"
    data.write_text("a,b,c,d,label\n" + "".join(f"1,2,3,{i},{v}\n" for i, v in enumerate([0, 1, 0.5, 1])))
    status, _, err = run_cli(capsys, "train", "--data", data, "--task", "classification", "--out",
                             tmp_path / "o.npz", "--epochs", 1, "--backend", "numpy")  # the host loader
    assert status == 1
    assert f"{data}: labels must be integers (or names); row 4 is 0.5" in err  # the header is row 1
    regression = tmp_path / "r.npz"
    bpx.save(bpx.MLP([4, 3, 1], output="identity", loss="mse", backend="numpy"), regression)
    named = tmp_path / "named.csv"
    named.write_text("a,b,c,d,label\n1,2,3,4,cat\n1,2,3,5,dog\n")
    status, _, err = run_cli(capsys, "evaluate", "--model", regression, "--data", named, "--backend", "numpy")
    assert status == 1
    assert f"{named}: labels must be numbers for this model (it has no class names); row 2 is 'cat'" in err
    assert "dtype" not in err


def test_regression_loss_is_labelled_half_mse(capsys, tmp_path):
    data = tmp_path / "reg.csv"
    rng = np.random.default_rng(0)
    data.write_text("a,b,target\n" + "".join(f"{a:.3f},{b:.3f},{a + 0.5 * b:.3f}\n" for a, b in rng.normal(size=(40, 2))))
    status, out, err = run_cli(capsys, "train", "--data", data, "--out", tmp_path / "m.npz", "--epochs", 2,
                               "--task", "regression", "--verbose", 0, "--backend", "numpy")
    assert status == 0, err
    assert "(½·MSE, the mse loss: half the mean squared error)" in out
    status, out, _ = run_cli(capsys, "evaluate", "--model", tmp_path / "m.npz", "--data", data)
    assert "(mse: ½·MSE, half the mean squared error)" in out


def test_resume_mismatch_names_the_first_differing_setting():
    from bpx.training._checkpoint import first_difference

    saved = {"a": 1, "arch": {"sizes": [4, 8, 3], "act": "relu"}, "z": None}
    now = {"a": 1, "arch": {"sizes": [4, 8, 3], "act": "tanh"}, "z": 2}
    assert first_difference(saved, now) == ("arch.act", "relu", "tanh")
    assert first_difference(now, now) is None


# -- a clean tree ---------------------------------------------------------------------------------------------
def test_docs_examples_leave_the_working_tree_unchanged():
    """The docs page whose example saves a model (squareplus.npz, once committed by accident) runs in a
    temporary folder: the checkout's ``git status`` is the same after it. The whole suite is checked the
    same way at its end (tests/conftest.py)."""
    import subprocess
    import sys

    from conftest import git_status

    before = git_status()
    if before is None:
        pytest.skip("not a git checkout (or no git): nothing to compare")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "models",
                           os.path.join(ROOT, "tests", "test_readme.py")], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, PYTHONPATH=ROOT, BPX_BACKEND="numpy"))
    assert done.returncode == 0, done.stdout[-2000:]
    assert " passed" in done.stdout
    assert git_status() == before
    assert not os.path.exists(os.path.join(ROOT, "squareplus.npz"))


def test_train_resume_from_a_fifo_is_refused_without_hanging(capsys, tmp_path, table):
    fifo = tmp_path / "run.ckpt"
    os.mkfifo(fifo)
    status, _, err = run_cli(capsys, "train", "--data", table, "--out", tmp_path / "m.npz", "--epochs", 1,
                             "--checkpoint", fifo, "--resume", "--verbose", 0, "--backend", "numpy")
    assert status == 1 and f"{fifo}: not a regular file (a FIFO (named pipe))" in err
    assert not (tmp_path / "m.npz").exists()
