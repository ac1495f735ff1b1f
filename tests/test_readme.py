"""The README's Python example runs as written and prints what it says."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed package)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README has no python example"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BPX_BACKEND", "numpy")
    code = blocks[0]
    if "torch" in code:
        pytest.importorskip("torch")
    exec(compile(code, str(README), "exec"), {})
    loss, accuracy = (float(v) for v in capsys.readouterr().out.split())
    claimed = re.search(r"# ([\d.]+) ([\d.]+)", code)
    assert loss == pytest.approx(float(claimed.group(1)), abs=1e-3)
    assert accuracy == pytest.approx(float(claimed.group(2)), abs=1e-3)
    assert (tmp_path / "xor.npz").exists()
