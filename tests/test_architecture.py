"""The architecture of docs/development/architecture.md, checked: import-linter's contracts hold (and
break on an upward import), one errors module with its old names, one validation module, one
activation-name table, one home per callback."""

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import bpx

ROOT = pathlib.Path(bpx.__file__).parent.parent


def _lint_imports():
    exe = shutil.which("lint-imports") or os.path.join(os.path.dirname(sys.executable), "lint-imports")
    if not os.path.exists(exe):
        pytest.skip("import-linter is not installed here (nox -s lint installs it and runs the contracts)")
    return exe


def _run(exe, project):
    env = dict(os.environ, PYTHONPATH=str(project))
    return subprocess.run([exe, "--no-cache", "--config", str(project / "pyproject.toml")], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_import_linter_contracts_hold():
    result = _run(_lint_imports(), ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_the_layers_contract_breaks_on_an_upward_import(tmp_path):
    """The math importing the loop breaks the layers contract and the math-below-loop contract."""
    exe = _lint_imports()
    shutil.copytree(ROOT / "bpx", tmp_path / "bpx", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    losses = tmp_path / "bpx" / "nn" / "_losses.py"
    losses.write_text(losses.read_text() + "\n\ndef _upward():\n    from ..training import fit\n\n    return fit\n")
    result = _run(exe, tmp_path)
    assert result.returncode != 0
    assert "bpx.nn is not allowed to import bpx.training" in result.stdout
    assert "2 broken" in result.stdout


def test_a_new_top_level_module_must_be_placed_in_a_layer(tmp_path):
    exe = _lint_imports()
    shutil.copytree(ROOT / "bpx", tmp_path / "bpx", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bpx" / "stray.py").write_text("X = 1\n")
    result = _run(exe, tmp_path)
    assert result.returncode != 0 and "bpx.stray" in result.stdout


# -- bpx.errors: one base, one class per kind of failure, the old names kept ------------------------
def test_every_error_has_the_common_base_and_the_builtin_it_always_had():
    from bpx import errors

    assert errors.ModelFileError is bpx.ModelFileError and errors.CheckpointError is bpx.CheckpointError
    for cls, builtin in [(errors.FileFormatError, ValueError), (errors.ModelFileError, ValueError),
                         (errors.CheckpointError, ValueError), (errors.TrainingDivergedError, FloatingPointError),
                         (errors.DeviceError, ValueError), (errors.BackendUnavailableError, Exception)]:
        assert issubclass(cls, errors.BpxError) and issubclass(cls, builtin), cls
    assert issubclass(errors.ModelFileError, errors.FileFormatError)
    assert issubclass(errors.CheckpointError, errors.FileFormatError)
    assert not issubclass(errors.ModelFileError, errors.CheckpointError)
    assert not issubclass(errors.CheckpointError, errors.ModelFileError)
    assert bpx.TrainingDiverged is errors.TrainingDivergedError is bpx.TrainingDivergedError
    assert errors.Unavailable is errors.BackendUnavailableError
    assert set(errors.__all__) <= set(bpx.__all__) | {"Unavailable"}


def test_a_file_format_error_keeps_its_message_and_pickles(tmp_path):
    import pickle

    from bpx.errors import CheckpointError, FileFormatError, ModelFileError

    error = ModelFileError(tmp_path / "m.npz", "the file is empty")
    assert str(error) == f"{tmp_path / 'm.npz'}: the file is empty"
    assert (error.path, error.reason) == (str(tmp_path / "m.npz"), "the file is empty")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ModelFileError and str(again) == str(error) and again.reason == error.reason
    assert type(pickle.loads(pickle.dumps(CheckpointError("c", "x")))) is CheckpointError
    assert isinstance(again, FileFormatError)


def test_load_raises_the_model_file_error_every_old_except_clause_catches(tmp_path):
    missing = tmp_path / "missing.npz"
    for caught in (bpx.ModelFileError, bpx.errors.FileFormatError, bpx.BpxError, ValueError):
        with pytest.raises(caught, match="no such file"):
            bpx.load(missing)


# -- one table between scikit-learn's activation names and bpx's ------------------------------------
def test_the_activation_name_table_is_written_once():
    import ast

    from bpx.integrations._sklearn_names import SKLEARN_ACTIVATIONS, SKLEARN_HIDDEN, sklearn_name

    assert SKLEARN_ACTIVATIONS["logistic"] == "sigmoid" and set(SKLEARN_HIDDEN) < set(SKLEARN_ACTIVATIONS)
    for theirs, ours in SKLEARN_ACTIVATIONS.items():
        assert sklearn_name(ours) == theirs
    assert sklearn_name("gelu") == "gelu"
    tables = []  # dict literals mapping "logistic" <-> "sigmoid" anywhere in bpx/
    for path in (ROOT / "bpx").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                pairs = {(ast.literal_eval(k), ast.literal_eval(v)) for k, v in zip(node.keys, node.values)
                         if isinstance(k, ast.Constant) and isinstance(v, ast.Constant)}
                if pairs & {("logistic", "sigmoid"), ("sigmoid", "logistic")}:
                    tables.append(path.relative_to(ROOT).as_posix())
    assert tables == ["bpx/integrations/_sklearn_names.py"]


# -- one validation module: bpx's wording, scikit-learn's wording (owner=), the CLI's usage errors ---
class Estimator:  # stands for a scikit-learn estimator: only its class name is read
    pass


@pytest.mark.parametrize("call,error,message", [
    (lambda c: c.check_int(0, "epochs"), ValueError, "epochs must be an integer >= 1, got 0"),
    (lambda c: c.check_int(2.0, "epochs"), TypeError, "epochs must be an integer >= 1, got 2.0 (float)"),
    (lambda c: c.check_int(True, "epochs", 0), TypeError, "epochs must be an integer >= 0, got True (bool)"),
    (lambda c: c.check_float(1.0, "lr", low=0.0, high=1.0, high_open=True), ValueError,
     "lr must be a finite number in [0.0, 1.0), got 1.0"),
    (lambda c: c.check_float(float("nan"), "lr"), ValueError, "lr must be a finite number in [-inf, inf], got nan"),
    (lambda c: c.check_float("1", "lr"), TypeError, "lr must be a real number, got '1' (str)"),
    (lambda c: c.check_bool(1, "shuffle"), TypeError, "shuffle must be True or False, got 1"),
    (lambda c: c.check_choice("z", "scaling", ("none", "max")), ValueError, "scaling must be one of none, max, got 'z'"),
    (lambda c: c.check_layer_sizes([3, 0], "sizes"), ValueError, "sizes[1] must be a positive integer, got 0"),
    (lambda c: c.check_float(-1, "alpha", low=0.0, owner=Estimator()), ValueError,
     "The 'alpha' parameter of Estimator must be a float in the range [0.0, inf]. Got -1 instead."),
    (lambda c: c.check_float(True, "tol", low=0.0, owner=Estimator()), ValueError,
     "The 'tol' parameter of Estimator must be a float in the range [0.0, inf]. Got True instead."),
    (lambda c: c.check_int(0, "max_iter", 1, owner=Estimator()), ValueError,
     "The 'max_iter' parameter of Estimator must be an int in the range [1, inf). Got 0 instead."),
    (lambda c: c.check_bool("yes", "shuffle", owner=Estimator()), ValueError,
     "The 'shuffle' parameter of Estimator must be a bool (True or False). Got 'yes' instead."),
    (lambda c: c.check_choice("x", "solver", ("sgd", "adam"), owner=Estimator()), ValueError,
     "The 'solver' parameter of Estimator must be a str among {'sgd', 'adam'}. Got 'x' instead."),
])
def test_the_validators_messages(call, error, message):
    from bpx.utils import _validation

    with pytest.raises(error) as info:
        call(_validation)
    assert str(info.value) == message


def test_the_validators_return_the_normalized_value():
    import numpy as np

    from bpx.utils._validation import check_bool, check_choice, check_float, check_int, in_interval, interval

    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_float(np.float32(0.5), "x", low=0.0, high=1.0) == 0.5
    assert check_bool(np.bool_(True), "b") is True and check_choice("max", "s", ("max",)) == "max"
    assert interval(0.0, 1.0, low_open=True) == "(0.0, 1.0]" and interval() == "[-inf, inf]"
    assert in_interval(0.0, 0.0) and not in_interval(0.0, 0.0, low_open=True) and not in_interval(float("inf"))


def test_the_scikit_learn_estimators_keep_scikit_learns_messages():
    pytest.importorskip("sklearn")
    from bpx.sklearn import MLPClassifier

    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    for params, message in [
        (dict(alpha=-1.0), "The 'alpha' parameter of MLPClassifier must be a float in the range [0.0, inf]. Got -1.0"),
        (dict(momentum=1.0), "The 'momentum' parameter of MLPClassifier must be a float in the range [0.0, 1.0). Got 1.0"),
        (dict(max_iter=0), "The 'max_iter' parameter of MLPClassifier must be an int in the range [1, inf). Got 0"),
        (dict(shuffle=1), "The 'shuffle' parameter of MLPClassifier must be a bool (True or False). Got 1 instead."),
        (dict(activation="softmax"), "The 'activation' parameter of MLPClassifier must be a str among "
                                     "{'identity', 'logistic', 'tanh', 'relu'}. Got 'softmax' instead."),
    ]:
        with pytest.raises(ValueError) as info:
            MLPClassifier(**params).fit(X, y)
        assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("parser,text,message", [
    ("positive_int", "0", "expected a positive integer, got '0'"),
    ("positive_int", "x", "expected a positive integer, got 'x'"),
    ("nonnegative_int", "-1", "expected an integer >= 0, got '-1'"),
    ("positive_float", "nan", "expected a finite number, got 'nan'"),
    ("positive_float", "x", "expected a number, got 'x'"),
    ("positive_float", "0", "expected a number > 0, got '0'"),
    ("unit_interval", "1", "expected a number in [0, 1), got '1'"),
    ("fraction", "0", "expected a number in (0, 1), got '0'"),
    ("fraction_open", "1.5", "expected a number in (0, 1], got '1.5'"),
    ("float_at_least_0", "-0.1", "expected a number >= 0, got '-0.1'"),
])
def test_the_cli_number_parsers_keep_argparse_usage_errors(parser, text, message):
    import argparse

    from bpx.cli import args

    with pytest.raises(argparse.ArgumentTypeError) as info:
        getattr(args, parser)(text)
    assert str(info.value) == message
    assert args.fraction_open("1") == 1.0 and args.unit_interval("0") == 0.0 and args.positive_int("3") == 3


# -- imports at the top: a function-level import of bpx's own modules says why ----------------------
def test_every_function_level_import_of_bpx_says_why():
    """Outside bpx/cli (where start-up time is the reason), a function-level import of one of bpx's own
    modules is there for an optional dependency (or is the one upward import still to remove), and its
    line says so (docs/development/architecture.md, "Private modules, public surfaces")."""
    import ast

    unexplained = []
    for path in sorted((ROOT / "bpx").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "bpx").parts:
            continue
        lines = path.read_text().splitlines()
        tree = ast.parse(path.read_text())
        for function in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(function):
                own = (isinstance(node, ast.ImportFrom) and (node.level > 0 or (node.module or "").startswith("bpx"))) or (
                    isinstance(node, ast.Import) and any(a.name.split(".")[0] == "bpx" for a in node.names))
                line = lines[node.lineno - 1] if own else ""
                if own and "optional dependency" not in line and "upward" not in line:
                    unexplained.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)
