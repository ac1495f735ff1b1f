"""The install name and the hints bpx prints for a missing optional dependency.

The package imports as ``bpx``; it is distributed as :data:`DISTRIBUTION` (``bpx`` on the public index
is an unrelated project), as scikit-learn imports as ``sklearn``. Every hint names both ways to get an
extra: from the index by the distribution name, and from a checkout with ``pip install '.[extra]'``.
"""

from __future__ import annotations

DISTRIBUTION = "bpx-backprop"


def install_hint(extra):
    """``"pip install 'bpx-backprop[torch]'"`` plus the checkout form, for the optional extra ``extra``."""
    return f"pip install '{DISTRIBUTION}[{extra}]' (from a checkout: pip install '.[{extra}]')"
