"""Dropout keep-masks: drawn on the host from the network's dropout stream (the same masks on every
backend: docs/development/architecture.md, "Randomness happens on the host"), moved to the device as
packed bits, unpacked there.

This module is the one place in bpx.nn that imports numpy, and only for that host-side draw
(:func:`draw_packed`, a ``numpy.random.Generator`` and ``np.packbits``); everything that runs on the
device (:func:`unpack_keep`, :func:`scale_keep`) gets ``xp`` from its caller, as the rest of the math does.

The draw is ``rng.random((rows, n)) >= p``, as it always was (so the masks, and every trajectory, are
unchanged); what travels is ``np.packbits`` of it, one bit per unit instead of one byte (8x fewer bytes
per step: benchmarks/dropout_transfer.py), through :meth:`bpx.Backend.transfer` (pinned memory and a
non-blocking copy on torch:cuda: no host sync per step). On the device, ``(bytes >> k) & 1`` for k = 0..7
restores the booleans, with the array API's bitwise operators.
"""

from __future__ import annotations

import numpy as np

BITS = 8


def draw_packed(rng, rows, n, p):
    """The packed keep-mask of ``rows`` x ``n`` units with drop probability ``p``: (rows, ceil(n/8)) uint8
    on the host, bit k of byte j (little-endian) saying whether unit 8j + k is kept."""
    return np.packbits(rng.random((rows, n)) >= p, axis=-1, bitorder="little")


def bit_positions(xp, device):
    """The (8,) uint8 bit positions 0..7 that :func:`unpack_keep` shifts by (make once, reuse per step)."""
    return xp.arange(BITS, dtype=xp.uint8, device=device)


def unpack_keep(packed, n, xp, positions):
    """The device keep-mask (..., n) of 0/1 (uint8) from ``packed`` (..., ceil(n/8)) uint8 bits."""
    bits = (xp.expand_dims(packed, axis=-1) >> positions) & 1
    bits = xp.reshape(bits, (*packed.shape[:-1], packed.shape[-1] * BITS))
    return bits[..., :n]


def scale_keep(bits, p, dtype, xp):
    """Inverted dropout's mask: 0 where dropped, 1/(1 − p) where kept, in ``dtype``."""
    return xp.astype(bits, dtype) * (1.0 / (1.0 - p))


_POSITIONS = {}


def batch_masks(backend, rng, widths, rates, dtype, m):
    """Fresh masks for a batch of ``m`` rows: per layer an (m, n) array of 0 and 1/(1 − p) on ``backend``
    (None where p = 0), drawn from ``rng`` in layer order; the bit positions are made once per backend."""
    xp = backend.xp
    positions = _POSITIONS.get(backend)
    if positions is None:
        with backend.device_context():  # made once: on the network's device (CuPy), whoever asks first
            positions = _POSITIONS[backend] = bit_positions(xp, backend.device)
    return [None if not p else scale_keep(unpack_keep(backend.transfer(draw_packed(rng, m, n, p)), n, xp, positions), p,
                                  dtype, xp)
            for n, p in zip(widths, rates)]
