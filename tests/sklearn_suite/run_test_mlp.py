"""Run scikit-learn's own MLP tests against bpx.sklearn, with only the estimators' import swapped.

scikit-learn's ``sklearn/neural_network/tests/test_mlp.py`` is read from the installed scikit-learn
at run time (it is not copied into this repository), the line
``from sklearn.neural_network import MLPClassifier, MLPRegressor`` is rewritten to import bpx.sklearn's
estimators, and the module is run by pytest in a temporary folder (with the one fixture it takes from
scikit-learn's conftest, ``global_random_seed``, fixed at scikit-learn's default 42).

    python tests/sklearn_suite/run_test_mlp.py [--original] [--json] [-- extra pytest args]

prints one line per test (``passed``/``failed``/``skipped``) and the summary; ``--original`` runs the
untouched module against scikit-learn itself. The bpx backend is the usual ``$BPX_BACKEND``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = "from bpx.sklearn import MLPClassifier, MLPRegressor"
CONFTEST = '''import pytest


@pytest.fixture
def global_random_seed():
    return 42
'''


def source_path():
    import sklearn

    return Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"


def prepare(folder, original=False):
    """Write the (import-swapped) test module and its conftest into ``folder``; returns the module's path."""
    text = source_path().read_text()
    if text.count(IMPORT) != 1:
        raise RuntimeError(f"{source_path()} no longer has exactly one line {IMPORT!r}; update this harness")
    if not original:
        text = text.replace(IMPORT, SWAPPED)
    target = Path(folder) / "test_mlp_sklearn.py"
    target.write_text(text)
    (Path(folder) / "conftest.py").write_text(CONFTEST)
    return target


def run(original=False, extra=(), timeout=None):
    """Run the module; returns ``{test id: outcome}`` with outcome ``passed``, ``failed`` or ``skipped``."""
    repo = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="bpx-sklearn-mlp-") as tmp:
        module = prepare(tmp, original)
        report = Path(tmp) / "report.xml"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(repo), *filter(None, [env.get("PYTHONPATH")])])
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp,
               f"--junitxml={report}", str(module), *extra]
        subprocess.run(cmd, cwd=tmp, env=env, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report; run it by hand: {' '.join(cmd)}")
        outcomes = {}
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name")
            kinds = {child.tag for child in case}
            if kinds & {"failure", "error"}:
                outcome = "failed"
            elif "skipped" in kinds:
                outcome = "skipped"
            else:
                outcome = "passed"
            outcomes[name] = outcome
        return outcomes


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    outcomes = run(original="--original" in argv, extra=extra)
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("passed", "failed", "skipped")}
    if "--json" in argv:
        print(json.dumps({"outcomes": outcomes, "counts": counts}, indent=1))
    else:
        for name, outcome in outcomes.items():
            print(f"{outcome:8s} {name}")
        print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped "
              f"of {len(outcomes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
