"""Every Python example in the README runs as written and prints what its comment says."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S) if README.exists() else []
NUMBER = r"-?\d+(?:\.\d+)?"


def claimed_output(code):
    """The comment on the last print() line, or the comment line right after it."""
    lines = code.rstrip().splitlines()
    i = max(k for k, line in enumerate(lines) if "print(" in line)
    if "#" in lines[i]:
        return lines[i].split("#", 1)[1]
    assert i + 1 < len(lines) and lines[i + 1].lstrip().startswith("#"), "the example does not say what it prints"
    return lines[i + 1].split("#", 1)[1]


def test_the_readme_has_examples():
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed package)")
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example{k + 1}" for k in range(len(BLOCKS))])
def test_readme_example_runs_and_prints_what_it_claims(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPX_BACKEND", "numpy")
    for library in ("torch", "sklearn", "onnxruntime", "ndonnx", "jax", "dask"):
        if re.search(rf"\b{library}\b", code):
            pytest.importorskip(library)
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out
    claimed = claimed_output(code)
    got, want = re.findall(NUMBER, printed), re.findall(NUMBER, claimed)
    assert len(got) == len(want), (printed, claimed)
    assert [float(g) for g in got] == pytest.approx([float(w) for w in want], abs=1e-3)
    assert re.sub(NUMBER, "#", printed).split() == re.sub(NUMBER, "#", claimed).split()
