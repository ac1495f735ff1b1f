"""The one matmul-precision rule of every backend: float32 matrix products run at full float32
precision, never silently in TF32, unless the user opts in with one switch, ``BPX_TF32=1``
(docs/gpu.md, "Precision").

Each GPU library has its own default: PyTorch keeps TF32 off for matmuls
(``torch.backends.cuda.matmul.allow_tf32``), CuPy too unless ``CUPY_TF32=1`` is set before its first
matmul, but JAX runs float32 matmuls in TF32 on Ampere and newer GPUs (its default matmul precision).
So bpx sets the precision itself, in the one place each library offers:

- JAX: every computation bpx runs is traced under ``jax.default_matmul_precision("highest")``
  (``"tensorfloat32"`` with ``BPX_TF32=1``): the compiled step, epoch and L-BFGS objective carry it in
  their program (``precision = [HIGHEST, HIGHEST]`` on every ``dot_general``), and fit, the forward
  pass and prediction run inside it (``ArrayLibrary.device_context``). A context, not
  ``precision=`` in the products, because the math is written once against the array API, whose
  ``@`` takes no precision;
- PyTorch on CUDA: ``torch.backends.cuda.matmul.allow_tf32`` is set to the switch inside bpx's
  context and restored after it;
- CuPy: ``CUPY_TF32=1`` is set before CuPy is first imported when the switch is on (CuPy reads it
  once, at its first matmul); a ``CUPY_TF32`` the user set is left as it is.

bf16 matmuls happen only with ``precision="bf16"`` (:mod:`bpx.nn._precision`), an explicit choice.
"""

from __future__ import annotations

import os

ENV = "BPX_TF32"
ON = ("1", "true", "yes", "on")


def tf32_allowed():
    """Whether the user opted in to TF32 matmuls (``BPX_TF32=1``); read at each use, so it can change."""
    return os.environ.get(ENV, "").strip().lower() in ON


def jax_precision():
    """The ``jax.default_matmul_precision`` bpx computes under: ``"highest"``, or ``"tensorfloat32"``
    when the user opted in."""
    return "tensorfloat32" if tf32_allowed() else "highest"


def describe():
    """One line for ``bpx info``: the rule as it stands in this process."""
    if tf32_allowed():
        return f"TF32 allowed ({ENV}=1): float32 matmuls may run in TF32 on torch:cuda, cupy and jax:gpu"
    return f"highest (float32 matmuls in full float32 on every backend; set {ENV}=1 to allow TF32)"
