"""Gradient clipping by global norm and by value, worked by hand, on every backend."""

import numpy as np
import pytest

import bpx
from bpx.clipping import clip_by_global_norm, clip_by_value, global_norm

G1 = np.array([[3.0, 0.0], [0.0, 0.0]])
G2 = np.array([0.0, -4.0])  # global norm 5


def test_global_norm_and_clip_by_norm(backend, float64, xp):
    grads = [backend.asarray(G1), backend.asarray(G2)]
    assert float(global_norm(grads)) == 5.0
    clipped = clip_by_global_norm(grads, 1.0)
    factor = 1.0 / (5.0 + 1e-6)  # torch.nn.utils.clip_grad_norm_'s factor
    np.testing.assert_allclose(bpx.to_numpy(clipped[0]), G1 * factor, rtol=1e-15)
    np.testing.assert_allclose(bpx.to_numpy(clipped[1]), G2 * factor, rtol=1e-15)
    unclipped = clip_by_global_norm(grads, 10.0)  # under the bound: unchanged
    np.testing.assert_array_equal(bpx.to_numpy(unclipped[0]), G1)
    np.testing.assert_array_equal(bpx.to_numpy(G1), bpx.to_numpy(grads[0]))  # inputs not written


def test_clip_by_value(backend, float64):
    grads = [backend.asarray(G1), backend.asarray(G2)]
    clipped = clip_by_value(grads, 2.5)
    np.testing.assert_array_equal(bpx.to_numpy(clipped[0]), [[2.5, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(bpx.to_numpy(clipped[1]), [0.0, -2.5])


@pytest.mark.parametrize("inplace", [True, False])
def test_an_optimizer_clips_before_weight_decay(backend, float64, inplace):
    P = np.array([[1.0, 2.0], [3.0, 4.0]])
    params = [backend.xp.asarray(backend.asarray(P), copy=True), backend.xp.asarray(backend.asarray(np.zeros(2)),
                                                                                    copy=True)]
    opt = bpx.SGD(0.1, weight_decay=0.5, clip_norm=1.0, clip_value=0.5, inplace=None if inplace else False)
    W, b = opt.step(params, [backend.asarray(G1), backend.asarray(G2)])
    factor = 1.0 / (5.0 + 1e-6)
    g = np.clip(G1 * factor, -0.5, 0.5) + 0.5 * P
    np.testing.assert_allclose(bpx.to_numpy(W), P - 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(bpx.to_numpy(b), -0.1 * np.clip(G2 * factor, -0.5, 0.5), rtol=1e-15)


@pytest.mark.parametrize("kwargs,error", [({"clip_norm": 0.0}, ValueError), ({"clip_norm": -1.0}, ValueError),
                                          ({"clip_value": float("inf")}, ValueError), ({"clip_value": "1"}, TypeError)])
@pytest.mark.parametrize("make", [bpx.SGD, bpx.Adam, bpx.AdamW, bpx.RMSprop, bpx.Adagrad])
def test_bad_clip_arguments_are_refused(make, kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        make(0.1, **kwargs)
