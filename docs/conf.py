"""Sphinx configuration of the bpx documentation.

Why this stack: Sphinx + MyST Markdown + autodoc/autosummary + napoleon (numpy-style docstrings) with
pydata-sphinx-theme is what NumPy, SciPy, scikit-learn, pandas and the array-API projects bpx builds on
use, so a reader finds the layout they know, and the API reference is generated from the docstrings
(the code is the single source; nothing is copied into the pages by hand). Pages are Markdown, so the
guide files render on GitHub too and their ```python blocks are run by tests/test_docs.py.

Two things happen at build time:

* ``api/index.rst`` is written from ``bpx.__all__`` and the list of public submodules below, so a name
  added to ``bpx.__all__`` appears in the API reference without editing any page;
* the gallery scripts in ``examples/`` render their figures into ``gallery/figures/`` (set
  ``BPX_DOCS_GALLERY=0`` to keep the committed figures and skip running them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import bpx  # noqa: E402

project = "bpx"
author = "the bpx authors"
copyright = "bpx authors, MIT license"
release = version = bpx.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**/README.md"]
templates_path = ["_templates"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# the guide's and development's toctrees end with a glob (guide/*, development/*) so pages other
# contributors add appear without editing the index; where there are none yet, that glob is empty

autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False

html_theme = "pydata_sphinx_theme"
html_title = f"bpx {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"changelog": [], "benchmarks": [], "gpu": []}
html_last_updated_fmt = None
html_copy_source = False

# ---------------------------------------------------------------------------------------------------
# The API reference, generated from bpx.__all__ and the public submodules
# ---------------------------------------------------------------------------------------------------
# the public packages and modules: one per layer (docs/development/architecture.md) and the modules a user
# imports by name (bpx.sklearn, bpx.datasets, bpx.schedules, ...); bpx.cli is the command line (its
# reference is `bpx --help`). Implementation modules are private (underscored) and have no page.
SUBMODULES = [
    "bpx.backends", "bpx.nn", "bpx.optimizers", "bpx.data", "bpx.io", "bpx.callbacks", "bpx.training",
    "bpx.models", "bpx.integrations", "bpx.tools", "bpx.utils", "bpx.errors",
    "bpx.clipping", "bpx.datasets", "bpx.distributed", "bpx.schedules", "bpx.sklearn",
]


def public_submodules():
    """SUBMODULES that import here, plus any bpx module a helper adds later that is listed in
    ``bpx.__all__``'s objects' modules (so a new public module is never left out)."""
    import importlib
    import inspect

    names = list(SUBMODULES)
    for name in bpx.__all__:
        module = getattr(inspect.getmodule(getattr(bpx, name)), "__name__", "")
        if module.startswith("bpx.") and module not in names and not module.split(".")[-1].startswith("_"):
            names.append(module)
    usable = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as error:  # an optional dependency missing: say so, never silently
            print(f"[bpx docs] API reference: {name} left out ({error})", file=sys.stderr)
            continue
        usable.append(name)
    return usable


def write_api_index():
    """docs/api/index.rst: every name of bpx.__all__ and every public submodule, one generated page
    each (tests/test_docs.py checks the names against bpx.__all__)."""
    top = sorted(bpx.__all__, key=str.lower)
    modules = public_submodules()
    folder = DOCS / "api" / "modules"
    folder.mkdir(parents=True, exist_ok=True)
    for name in modules:
        # bpx.gradcheck is a module and (in bpx.__all__) a function: the function's page is the indexed one
        no_index = "   :no-index:\n" if name.removeprefix("bpx.") in bpx.__all__ else ""
        write_if_changed(folder / f"{name}.rst", f"{name}\n{'=' * len(name)}\n\n.. automodule:: {name}\n"
                         f"   :members:\n   :show-inheritance:\n{no_index}")
    lines = [
        "API reference",
        "=============",
        "",
        "Generated from the docstrings. ``import bpx`` gives the names of ``bpx.__all__`` (first",
        "table); the submodules (the list after it) hold the rest of the public functions and classes.",
        "Docstrings follow the numpy convention (Parameters, Returns, Raises).",
        "",
        "The ``bpx`` namespace",
        "---------------------",
        "",
        ".. currentmodule:: bpx",
        "",
        ".. autosummary::",
        "   :toctree: generated",
        "",
        *[f"   {name}" for name in top],
        "",
        "Submodules",
        "----------",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
        *[f"   modules/{name}" for name in modules],
        "",
    ]
    write_if_changed(DOCS / "api" / "index.rst", "\n".join(lines))


def write_if_changed(path, text):
    """Write a generated source only when it changed, so Sphinx rebuilds only what did."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


write_api_index()

# ---------------------------------------------------------------------------------------------------
# The gallery: examples/*.py render their figures into docs/gallery/figures/
# ---------------------------------------------------------------------------------------------------
GALLERY = ["worked_example_222.py", "cat_classifier.py", "digits_every_backend.py", "dask_out_of_core.py"]


def render_gallery(app):
    """Run each gallery script (``python examples/NAME --figures docs/gallery/figures``); a script
    that fails fails the build. Skipped with BPX_DOCS_GALLERY=0 (the committed figures are used)."""
    if os.environ.get("BPX_DOCS_GALLERY", "1") == "0":
        print("[bpx docs] gallery: BPX_DOCS_GALLERY=0, using the committed figures")
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    for script in GALLERY:
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--figures", str(DOCS / "gallery" / "figures")],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"examples/{script} failed:\n{result.stdout}\n{result.stderr}")
        print(f"[bpx docs] gallery: examples/{script} in {time.perf_counter() - start:.1f} s: "
              f"{result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ''}")


# ---------------------------------------------------------------------------------------------------
# Docstrings: plain-text conventions made safe for reStructuredText
# ---------------------------------------------------------------------------------------------------
def escape_bars(line):
    """bpx's docstrings write absolute values and norms as |z| and ‖W‖; reStructuredText would read
    |z| as a substitution. Escape bars outside inline literals and outside table rows."""
    if line.lstrip().startswith(("|", "+")):
        return line
    parts = line.split("``")
    return "``".join(part if k % 2 else part.replace("|", "\\|") for k, part in enumerate(parts))


def process_docstring(app, what, name, obj, options, lines):
    if isinstance(obj, dict) and name in ("bpx.ACTIVATIONS", "bpx.LOSSES"):
        # a registry dict: document what it holds instead of dict's own docstring
        kind = "activation" if name.endswith("ACTIVATIONS") else "loss"
        lines[:] = [f"The {kind} registry: name → {kind} object. Names usable wherever bpx takes "
                    f"a{'n' if kind == 'activation' else ''} {kind}: " + ", ".join(f"``{key}``" for key in obj) + "."]
        if kind == "activation":
            lines += ["", "Register your own with :func:`bpx.activation`."]
        return
    lines[:] = [escape_bars(line) for line in lines]


def skip_member(app, what, name, obj, skip, options):
    """Leave out what scikit-learn's BaseEstimator adds to bpx.sklearn's estimators (metadata routing
    setters): they are scikit-learn's, documented there; and, on a submodule's page, the names that
    ``bpx.__all__`` exports, which have their own pages (one description each, no ambiguous references)."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if what == "module" and name in bpx.__all__ and getattr(bpx, name, None) is obj:
        return True  # a name of bpx.__all__ has its own page (bpx.Callback): a module page links there, once
    return None


class EmptyGlobFilter:
    """The guide's and development's toctrees end with a glob (guide/*, development/*) so that pages
    other contributors add appear without editing an index; where none exist yet the glob is empty,
    which is expected, not an error. Sphinx gives that warning no type, so suppress_warnings cannot
    select it: this filter drops exactly that message for exactly those two patterns."""

    def filter(self, record):
        message = record.getMessage()
        return not ("didn't match any documents" in message and ("'guide/*'" in message or "'development/*'" in message))


def setup(app):
    import logging

    # the logger of sphinx/directives/other.py, which emits that warning (Sphinx prefixes "sphinx.")
    logging.getLogger("sphinx.sphinx.directives.other").addFilter(EmptyGlobFilter())
    app.connect("builder-inited", render_gallery)
    app.connect("autodoc-process-docstring", process_docstring)
    app.connect("autodoc-skip-member", skip_member)
