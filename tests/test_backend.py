"""Backend selection, data movement and explicit host transfers."""

import numpy as np
import pytest

import bpx
from bpx.backends._backend import NAMES


def test_the_suite_backend_is_a_value(backend):
    assert backend.name in NAMES
    assert backend == bpx.get_backend(backend.spec)
    assert bpx.get_backend(backend) is backend
    assert backend.name in bpx.available_backends()


def test_numpy_is_always_available_and_auto_falls_back_to_it():
    assert "numpy" in bpx.available_backends()
    status = bpx.backend_status()
    assert set(status) == set(NAMES) and status["numpy"] is None
    expected = "cupy" if status["cupy"] is None else "numpy"
    assert bpx.get_backend("auto").name == expected


def test_environment_variable_is_the_default(monkeypatch):
    monkeypatch.setenv("BPX_BACKEND", "numpy")
    assert bpx.get_backend().name == "numpy"
    assert bpx.MLP([2, 2]).backend.name == "numpy"
    monkeypatch.delenv("BPX_BACKEND")
    assert bpx.get_backend().name in ("numpy", "cupy")


def test_unknown_backend_lists_what_is_available_and_why_not():
    with pytest.raises(ValueError) as info:
        bpx.get_backend("mxnet")
    message = str(info.value)
    assert "'mxnet'" in message and "Available here: numpy" in message
    for name, reason in bpx.backend_status().items():
        if reason is not None:
            assert f"{name}: {reason}" in message


def test_unusable_cupy_says_why():
    reason = bpx.backend_status()["cupy"]
    if reason is None:
        pytest.skip("CuPy is usable here")
    with pytest.raises(ValueError, match="cupy"):
        bpx.get_backend("cupy")


@pytest.mark.parametrize("spec,match", [("numpy:cuda", "numpy has only 'cpu'"), ("auto:1", "auto"),
                                        ("array_api_strict:device9", "known: CPU_DEVICE")])
def test_bad_device_specs(spec, match):
    if spec.startswith("array_api_strict") and "array_api_strict" not in bpx.available_backends():
        pytest.skip("array_api_strict is not installed")
    with pytest.raises(ValueError, match=match):
        bpx.get_backend(spec)


def test_torch_cuda_without_a_gpu_is_a_clear_error():
    if "torch" not in bpx.available_backends():
        pytest.skip("torch is not installed")
    import torch

    if torch.cuda.is_available():
        assert bpx.get_backend("torch:cuda").device.type == "cuda"
    else:
        with pytest.raises(ValueError, match="torch has no CUDA device"):
            bpx.get_backend("torch:cuda")


def test_asarray_moves_host_data_and_casts(backend, dtype):
    x = backend.asarray([[1, 2], [3, 4]], dtype=dtype)
    assert backend.owns(x) and x.dtype == backend.dtype(dtype)
    np.testing.assert_array_equal(bpx.to_numpy(x), [[1, 2], [3, 4]])
    assert bpx.to_numpy(x).dtype == np.dtype(dtype)


def test_read_only_host_arrays_are_accepted_without_warnings(backend):
    host = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    host.flags.writeable = False  # a memmap or a broadcast view; torch would warn on wrapping it
    x = backend.asarray(host)  # the suite turns warnings into errors
    np.testing.assert_array_equal(bpx.to_numpy(x), host)
    net = bpx.MLP([3, 2], output="identity", loss="mse", backend=backend, seed=0)
    net.fit(host, host[:, :2], epochs=2, verbose=0)
    assert not host.flags.writeable


def test_to_numpy_copies_to_the_host(backend):
    x = backend.asarray(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    host = bpx.to_numpy(x)
    assert type(host) is np.ndarray and host.shape == (2, 3)


def test_float16_is_refused(backend):
    with pytest.raises(TypeError, match="float16"):
        bpx.MLP([2, 2], backend=backend, dtype="float16")
    with pytest.raises(TypeError, match="float16"):
        bpx.MLP([2, 2], backend=backend).forward(np.zeros((1, 2), dtype=np.float16))


def test_float64_on_a_float32_only_device_is_a_clear_error():
    if "array_api_strict" not in bpx.available_backends():
        pytest.skip("array_api_strict is not installed")
    with pytest.raises(ValueError, match="float64.*not supported.*no_float64"):
        bpx.MLP([2, 2], backend="array_api_strict:no_float64", dtype="float64")


def test_arrays_of_another_library_are_refused_not_converted(backend):
    others = [n for n in bpx.available_backends() if n != backend.name and n != "numpy"]
    if not others:
        pytest.skip("no second array library installed")
    other = bpx.get_backend(others[0])
    net = bpx.MLP([2, 2], backend=backend)
    with pytest.raises(TypeError, match=f"X is a {others[0]} array but the backend is"):
        net.forward(other.asarray(np.zeros((1, 2), dtype=np.float32)))


def test_arrays_on_another_device_are_refused():
    if "array_api_strict" not in bpx.available_backends():
        pytest.skip("array_api_strict is not installed")
    net = bpx.MLP([2, 2], backend="array_api_strict:device1")
    elsewhere = bpx.get_backend("array_api_strict").asarray(np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="X is on device .*CPU_DEVICE.* but backend 'array_api_strict:device1'"):
        net.forward(elsewhere)


def test_to_numpy_is_always_a_copy(backend, xp):
    """bpx.to_numpy returns an independent host copy on every backend: writing to it, or to the array
    it came from, never shows through."""
    x = backend.asarray(np.arange(6.0).reshape(2, 3), "float32")
    host = bpx.to_numpy(x)
    assert isinstance(host, np.ndarray)
    host[0, 0] = 99.0
    assert float(bpx.to_numpy(x)[0, 0]) == 0.0
    again = bpx.to_numpy(x)
    assert not np.shares_memory(again, host)


def test_every_registered_library_is_one_complete_entry():
    """A library is one registry entry (bpx/backends/): a name, an install hint, a probe, a way to
    own, move and copy its arrays; bpx.backend has no branch on library names."""
    import inspect

    import bpx.backends._backend as backend_module
    from bpx.backends._libraries import LIBRARIES, ArrayLibrary

    assert list(LIBRARIES)[:4] == ["numpy", "cupy", "torch", "array_api_strict"]
    for name, library in LIBRARIES.items():
        assert isinstance(library, ArrayLibrary) and library.name == name and library.install
        assert not library.owns(np.zeros(2)) or name == "numpy"
    source = inspect.getsource(backend_module)
    assert not any(f'== "{name}"' in source or f"== '{name}'" in source for name in LIBRARIES)


def _jax():
    if bpx.backend_status()["jax"] is not None:
        pytest.skip(f"jax: {bpx.backend_status()['jax']}")
    import jax

    return jax


@pytest.mark.parametrize("spec", ["jax", "jax:cpu", "jax:0", "jax:cpu:0"])
def test_jax_specs_name_its_devices(spec):
    jax = _jax()
    backend = bpx.get_backend(spec)
    default = jax.devices()[0] if spec in ("jax", "jax:0") else jax.devices("cpu")[0]
    assert backend.name == "jax" and backend.device == default and backend.spec == spec
    x = backend.asarray(np.arange(6.0).reshape(2, 3), "float32")
    assert x.devices() == {default}


@pytest.mark.parametrize("spec,match", [("jax:tensor", "expected one of cpu, gpu"), ("jax:cpu:9", "jax sees"),
                                        ("jax:cpu:x", "not an integer")])
def test_bad_jax_specs(spec, match):
    _jax()
    with pytest.raises(ValueError, match=match):
        bpx.get_backend(spec)


def test_jax_without_x64_is_a_device_without_float64_that_says_how_to_get_it():
    jax = _jax()
    backend = bpx.get_backend("jax")
    assert backend.has_dtype("float64") == bool(jax.config.jax_enable_x64)
    assert backend.library.settings()["jax_enable_x64 (float64 on jax)"] == bool(jax.config.jax_enable_x64)
    if jax.config.jax_enable_x64:
        assert backend.asarray(np.ones(2)).dtype == backend.dtype("float64")
        return
    with pytest.raises(ValueError, match="JAX_ENABLE_X64=1"):
        bpx.MLP([2, 2], backend="jax", dtype="float64")
    assert backend.asarray(np.ones(2)).dtype == backend.dtype("float32")  # host float64 lands as float32
    assert backend.asarray(np.arange(3)).dtype == jax.numpy.int32  # explicitly, without jax's truncation warning
    with pytest.raises(ValueError, match="x64"):
        backend.asarray(np.array([2**40]))


def test_jax_arrays_take_no_in_place_fast_path():
    _jax()
    from bpx.backends._backend import inplace_ok, ndarray_ok

    x = bpx.get_backend("jax").asarray(np.zeros(3), "float32")
    assert not inplace_ok(x) and not ndarray_ok(x)
    assert bpx.get_backend("jax").library.compiled
