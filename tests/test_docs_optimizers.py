"""Every Python example in docs/guide/optimizers.md runs, in order, and prints what its comment says."""

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "optimizers.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S) if PAGE.exists() else []


def test_the_examples_run_and_print_what_they_claim(tmp_path, monkeypatch, capsys):
    if not BLOCKS:
        pytest.skip("docs/guide/optimizers.md is not next to the tests (installed package)")
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for code in BLOCKS:
        exec(compile(code, str(PAGE), "exec"), namespace)
        printed = capsys.readouterr().out.strip().splitlines()
        claimed = [line.split("#", 1)[1].strip() for line in code.splitlines() if "print(" in line]
        assert printed == claimed, code
