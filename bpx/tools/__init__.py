"""Tools around training: the gradient check, the one-step teaching view, cross-backend parity, the
machine report, the benchmark harness and ``backend="fastest"``."""

from ._explain import explain, format_text
from ._gradcheck import check_activation, gradcheck
from ._parity import drift_report

__all__ = ["check_activation", "drift_report", "explain", "format_text", "gradcheck"]
