"""The architecture of docs/development/architecture.md, checked: import-linter's contracts hold (and
break on an upward import), one errors module with its old names, one validation module, one
activation-name table, one home per callback."""

import os
import pathlib
import shutil
import subprocess
import sys

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
