"""The docs site covers the public API: every name of ``bpx.__all__`` is in the generated API reference.

docs/conf.py writes docs/api/index.rst from ``bpx.__all__`` when Sphinx loads it; loading it here does
the same without Sphinx. Where the site has been built (``nox -s docs``), the built pages are checked too.
"""

import importlib.util
import re
from pathlib import Path

import pytest

import bpx

DOCS = Path(__file__).resolve().parent.parent / "docs"
pytestmark = pytest.mark.skipif(not (DOCS / "conf.py").exists(), reason="docs/ is not next to the tests (installed package)")


@pytest.fixture(scope="module")
def conf():
    spec = importlib.util.spec_from_file_location("bpx_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # writes docs/api/index.rst and docs/api/modules/*.rst
    return module


def test_every_public_name_is_in_the_api_reference(conf):
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    listed = set(re.findall(r"^   (\w+)$", index.split("Submodules")[0], flags=re.M))
    assert set(bpx.__all__) <= listed, sorted(set(bpx.__all__) - listed)
    assert len(bpx.__all__) >= 20


def test_public_submodules_have_pages(conf):
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    for name in ("bpx.datasets", "bpx.data", "bpx.nn", "bpx.tools", "bpx.training", "bpx.backends"):
        assert f"modules/{name}" in index
        assert f".. automodule:: {name}" in (DOCS / "api" / "modules" / f"{name}.rst").read_text(encoding="utf-8")
    if importlib.util.find_spec("sklearn"):
        assert "modules/bpx.sklearn" in index


def test_a_name_added_to_all_appears_without_editing_a_page(conf, monkeypatch):
    """The reference follows bpx.__all__: a name another module adds shows up at the next build."""
    monkeypatch.setattr(bpx, "__all__", [*bpx.__all__, "gradcheck_extra"])
    monkeypatch.setattr(bpx, "gradcheck_extra", bpx.gradcheck, raising=False)
    try:
        conf.write_api_index()
        assert "   gradcheck_extra" in (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    finally:
        monkeypatch.undo()
        conf.write_api_index()
    assert "gradcheck_extra" not in (DOCS / "api" / "index.rst").read_text(encoding="utf-8")


def test_the_built_site_has_a_page_per_public_name():
    html = DOCS / "_build" / "html"
    if not (html / "api" / "index.html").exists():
        pytest.skip("the site is not built here (nox -s docs builds it)")
    missing = [name for name in bpx.__all__ if not (html / "api" / "generated" / f"bpx.{name}.html").exists()]
    assert not missing


def test_guide_pages_exist_and_the_toctrees_glob_the_others():
    guide = {p.stem for p in (DOCS / "guide").glob("*.md")}
    assert {"math", "backends", "jax", "dask", "sklearn", "onnx", "saving", "parity", "explain", "csv"} <= guide
    assert "guide/*" in (DOCS / "user-guide.md").read_text(encoding="utf-8")
    assert "development/*" in (DOCS / "development.md").read_text(encoding="utf-8")
