"""Every ```python block of README.md and of the docs (docs/**/*.md) runs as written and prints what
its comments say.

A block's claim is the comment on each ``print(`` line (or the comment lines right after it), in order.
Numbers must match to 1e-3, or, written ``≈X±T``, to within T: use that for float32 training results,
whose last digits differ between machines with different BLAS kernels. A block that needs an optional
library that is not installed (it imports it, or bpx says "pip install 'bpx-backprop[...]'") is skipped with
that reason, with the blocks after it on its page. A
page is read top to bottom: its blocks run in order in one namespace (a later block may use what an
earlier one defined), in an empty working directory, on the numpy backend.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)]
OPTIONAL = ("torch", "sklearn", "onnxruntime", "ndonnx", "onnx", "jax", "dask", "distributed", "matplotlib", "h5py")
NUMBER = r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?"
APPROX = rf"≈\s*({NUMBER})\s*±\s*({NUMBER})"


def python_blocks(path):
    """The ```python blocks of one Markdown file, with the line each starts on."""
    text = path.read_text(encoding="utf-8")
    blocks = re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in blocks]


BLOCKS = [(path, line, code) for path in PAGES if path.exists() for line, code in python_blocks(path)]
IDS = [f"{path.relative_to(ROOT)}:{line}" for path, line, _ in BLOCKS]
NAMESPACES = {}  # page -> (index of the next block to run, the page's namespace)


def claimed_output(code):
    """The comments of the print() lines, in order: each print's own comment, or the comment lines right
    after it."""
    lines = code.rstrip().splitlines()
    claims = []
    for i, line in enumerate(lines):
        if not re.match(r"\s*print\(", line):
            continue
        if "#" in line:
            claims.append(line.split("#", 1)[1])
            continue
        k = i + 1
        while k < len(lines) and lines[k].lstrip().startswith("#"):
            claims.append(lines[k].split("#", 1)[1])
            k += 1
        assert k > i + 1, f"print on line {i + 1} does not say what it prints"
    return "\n".join(claims)


def expected_numbers(claim):
    """(value, tolerance) for each number of a claim: ≈X±T gives T, a plain number 1e-3."""
    wanted = []
    for m in re.finditer(rf"{APPROX}|(?P<plain>{NUMBER})", claim):
        if m.group("plain") is not None:
            wanted.append((float(m.group("plain")), 1e-3))
        else:
            wanted.append((float(m.group(1)), float(m.group(2))))
    return wanted


def words(text):
    return re.sub(rf"{APPROX}|{NUMBER}", "#", text).split()


def test_pages_have_examples():
    if not (ROOT / "README.md").exists():
        pytest.skip("README.md is not next to the tests (installed package)")
    assert len([b for b in BLOCKS if b[0].name == "README.md"]) >= 2
    assert len(BLOCKS) >= 20


def test_claims_are_parsed():
    assert expected_numbers("0.5 ≈0.97±0.02 w2 3") == [(0.5, 1e-3), (0.97, 0.02), (2.0, 1e-3), (3.0, 1e-3)]
    assert words("True ≈0.97±0.02 x") == ["True", "#", "x"]
    assert claimed_output("a = 1\nprint(a)  # 1\nprint(2)\n# 2\n# 3") == " 1\n 2\n 3"


@pytest.mark.parametrize("path,line,code", BLOCKS, ids=IDS)
def test_example_runs_and_prints_what_it_claims(path, line, code, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BPX_BACKEND", "numpy")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    page = [(ln, c) for p, ln, c in BLOCKS if p == path]
    index = [ln for ln, _ in page].index(line)
    done, namespace = NAMESPACES.get(path, (0, None))
    if namespace is None or done > index:  # a page starts (again, if run out of order) from its top
        done, namespace = 0, {"__name__": "__docs__", "__workdir__": tmp_path}
    monkeypatch.chdir(namespace["__workdir__"])
    for k in range(done, index + 1):  # the blocks before this one first, when they were not run
        ln, block = page[k]
        for library in OPTIONAL:
            if re.search(rf"^\s*(import|from)\s+{library}\b", block, flags=re.M) or re.search(rf"backend=\"{library}", block):
                NAMESPACES[path] = (len(page), None)  # the rest of the page needs it too
                pytest.importorskip(library, reason=f"{path.name}:{ln} needs {library}")
        capsys.readouterr()
        try:
            exec(compile(block, f"{path}:{ln}", "exec"), namespace)
        except (ImportError, ValueError) as error:  # bpx's own word that an optional extra is missing (e.g. ndonnx
            # on 3.10, or a backend whose library this session lacks: "backend 'jax' is not usable: jax: not installed")
            if "pip install" not in str(error) or (isinstance(error, ValueError) and "not installed" not in str(error)):
                raise
            NAMESPACES[path] = (len(page), None)
            pytest.skip(f"{path.name}:{ln} needs an optional dependency that is not installed: {error}")
        NAMESPACES[path] = (k + 1, namespace)
    printed = capsys.readouterr().out
    if "print(" not in code:
        return
    claimed = claimed_output(code)
    got, want = re.findall(NUMBER, printed), expected_numbers(claimed)
    assert len(got) == len(want), (printed, claimed)
    for g, (w, tol) in zip(got, want):
        assert abs(float(g) - w) <= tol * (1 + 1e-9), (printed, claimed)
    assert re.sub(NUMBER, "#", printed).split() == words(claimed), (printed, claimed)
