"""scikit-learn's own MLP test module (sklearn/neural_network/tests/test_mlp.py, read from the installed
scikit-learn) run against bpx.sklearn with only the estimators' import swapped: every test it runs must
pass (with scikit-learn 1.9.1: 57 of 57, 59 of 59 where pandas is installed; only the pandas tests may be
skipped, where pandas is missing)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

SPEC = os.environ.get("BPX_BACKEND", "numpy")
HARNESS = Path(__file__).parent / "sklearn_suite" / "run_test_mlp.py"


def _harness():
    spec = importlib.util.spec_from_file_location("bpx_run_test_mlp", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(SPEC != "numpy", reason="runs once, on the numpy backend (minutes); other backends: "
                    "BPX_BACKEND=<spec> python tests/sklearn_suite/run_test_mlp.py (torch: 57/57 too)")
def test_scikit_learns_own_mlp_tests_pass():
    outcomes = _harness().run(timeout=900)
    passed = sorted(name for name, outcome in outcomes.items() if outcome == "passed")
    failed = sorted(name for name, outcome in outcomes.items() if outcome == "failed")
    skipped = [name for name, outcome in outcomes.items() if outcome == "skipped"]
    ran = len(outcomes) - len(skipped)
    assert ran >= 40, outcomes  # the module was found and collected
    assert all(name.startswith("test_preserve_feature_names") for name in skipped), skipped  # pandas missing only
    # every test of the module that runs must pass (none is tolerated to fail)
    assert failed == [] and len(passed) == ran, f"{len(passed)} of {ran} passed; failing: {failed}"
