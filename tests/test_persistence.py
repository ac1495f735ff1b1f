"""Saving and loading: round trips across backends, refusal of anything untrustworthy, atomic writes."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from conftest import strict_device_move_refused

import bpx
from bpx.io._persistence import FORMAT_VERSION, ModelFileError


@pytest.fixture
def net(backend, dtype):
    net = bpx.MLP([4, 5, 3], backend=backend, dtype=dtype, seed=4)
    net.classes = ["a", "b", "c"]
    net.metadata = {"scaling": {"kind": "standard", "mean": [0.5, 1.0]}}
    return net


@pytest.fixture
def saved(net, tmp_path):
    path = tmp_path / "model.npz"
    bpx.save(net, path)
    return path


def test_round_trip_on_the_same_backend(net, saved, backend, to_input):
    loaded = bpx.load(saved, backend=backend)
    assert (loaded.layer_sizes, loaded.activation, loaded.output, loaded.loss_name, loaded.dtype, loaded.classes,
            loaded.metadata) == \
        (net.layer_sizes, net.activation, net.output, net.loss_name, net.dtype, net.classes, net.metadata)
    for p, q in zip(net.params, loaded.params):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))
    X = to_input(np.random.default_rng(0).standard_normal((6, 4)))
    np.testing.assert_array_equal(bpx.to_numpy(net.forward(X)), bpx.to_numpy(loaded.forward(X)))


@pytest.mark.parametrize("other", ["numpy", "array_api_strict", "array_api_strict:device1", "torch"])
def test_saved_on_this_backend_loads_on_every_other(net, saved, other, dtype, tol):
    if other.split(":")[0] not in bpx.available_backends():
        pytest.skip(f"{other} is not installed here")
    if other == "array_api_strict:device1" and strict_device_move_refused():
        pytest.skip(strict_device_move_refused())
    loaded = bpx.load(saved, backend=other)
    for p, q in zip(net.params, loaded.params):
        np.testing.assert_array_equal(bpx.to_numpy(p), bpx.to_numpy(q))  # the weights, bit for bit
    X = np.random.default_rng(0).standard_normal((6, 4))
    # the outputs within the dtype's tolerance: each library has its own matmul
    np.testing.assert_allclose(bpx.to_numpy(net.forward(X)), bpx.to_numpy(loaded.forward(X)), **tol(dtype))


def test_writes_exactly_the_path_given(net, tmp_path):
    path = tmp_path / "no_extension"
    assert bpx.save(net, path) == str(path)
    assert sorted(os.listdir(tmp_path)) == ["no_extension"]  # no .npz appended, no temp file left


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_file_gets_ordinary_permissions(net, tmp_path):
    umask = os.umask(0o022)
    try:
        bpx.save(net, tmp_path / "new.npz")
        assert os.stat(tmp_path / "new.npz").st_mode & 0o777 == 0o644
        (tmp_path / "old.npz").touch()
        os.chmod(tmp_path / "old.npz", 0o640)
        bpx.save(net, tmp_path / "old.npz")  # replacing a file keeps its permissions
        assert os.stat(tmp_path / "old.npz").st_mode & 0o777 == 0o640
    finally:
        os.umask(umask)


def test_the_file_holds_no_pickle_and_a_json_header(saved):
    with zipfile.ZipFile(saved) as z:
        names = sorted(z.namelist())
        assert names == ["W1.npy", "W2.npy", "b1.npy", "b2.npy", "header.npy"]
    with np.load(saved, allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes())
    assert header["format"] == "bpx.mlp" and header["format_version"] == 3  # 3: the checksum covers the header
    assert header["bpx_version"] == bpx.__version__ and len(header["sha256"]) == 64


def rewrite(path, resign=True, **changes):
    """Rewrite a model file with some arrays or header fields replaced; ``resign``: with the checksum of
    the new header recomputed (as a forger would), so that the check after the checksum is reached."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes())
    for key, value in changes.items():
        if key in arrays and key != "header":
            arrays[key] = value
        else:
            header[key] = value
    if resign:
        from bpx.io._persistence import checksum

        header["sha256"] = checksum(header, [arrays[n] for n in header["arrays"] if n in arrays])
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("damage,match", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a bpx model file|unreadable"),
    (lambda p: p.write_bytes(b"garbage" * 100), "not a bpx model file"),
    (lambda p: rewrite(p, format="keras"), "format 'keras'"),
    (lambda p: rewrite(p, format_version=FORMAT_VERSION + 1),
     rf"format version {FORMAT_VERSION + 1}.*reads format version {FORMAT_VERSION}"),
    (lambda p: rewrite(p, W1=np.zeros((5, 4))), "shape"),
    (lambda p: rewrite(p, layer_sizes=[4, 6, 3]), "shape"),
    (lambda p: rewrite(p, activation="my_act"), r"activation 'my_act' is not registered.*bpx\.activation"),
    (lambda p: rewrite(p, loss="hinge"), "no valid network"),
    (lambda p: rewrite(p, bias="yes"), "bias"),
    (lambda p: rewrite(p, bias=False), "do not match the architecture"),
])
def test_untrustworthy_files_are_refused(saved, damage, match):
    damage(saved)
    with pytest.raises(ModelFileError, match=match) as info:
        bpx.load(saved)
    assert str(saved) in str(info.value) and isinstance(info.value, ValueError)


def test_a_flipped_bit_is_caught(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as z:
        info = z.getinfo("W2.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 128 + 3  # inside W2's data
    data[offset] ^= 0x10
    saved.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="CRC|checksum|unreadable"):
        bpx.load(saved)


def test_altered_weights_fail_the_checksum(saved, dtype):
    with np.load(saved, allow_pickle=False) as npz:
        W1 = npz["W1"].copy()
    W1[0, 0] += 1
    rewrite(saved, resign=False, W1=W1)
    with pytest.raises(ModelFileError, match="checksum"):
        bpx.load(saved)


def test_nan_weights_are_refused(saved):
    with np.load(saved, allow_pickle=False) as npz:
        b1 = npz["b1"].copy()
    b1[0] = np.nan
    rewrite(saved, b1=b1)
    with pytest.raises(ModelFileError, match="NaN"):
        bpx.load(saved)


def test_pickles_and_object_arrays_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, header=np.array([{"format": "bpx.mlp"}], dtype=object))
    with pytest.raises(ModelFileError, match="holds Python objects, which only a pickle can restore; bpx never loads"):
        bpx.load(path)
    path = tmp_path / "pickle.pkl"
    import pickle

    path.write_bytes(pickle.dumps({"W1": [1, 2]}))
    with pytest.raises(ModelFileError, match="not a bpx model file"):
        bpx.load(path)


def test_an_oversized_header_is_refused(saved):
    rewrite(saved, padding="x" * (2 << 20))
    with pytest.raises(ModelFileError, match="header of .* bytes exceeds"):
        bpx.load(saved)


def test_save_refuses_bad_paths_before_writing(net, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        bpx.save(net, tmp_path / "missing" / "m.npz")
    with pytest.raises(ValueError, match="directory"):
        bpx.save(net, tmp_path)
    with pytest.raises(TypeError, match="bpx.MLP"):
        bpx.save("not a net", tmp_path / "m.npz")
    net.metadata = {"mean": float("nan")}
    with pytest.raises(TypeError, match="metadata"):
        bpx.save(net, tmp_path / "m.npz")
    net.metadata = {"f": open}
    with pytest.raises(TypeError, match="metadata"):
        bpx.save(net, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_a_failed_save_leaves_the_old_file_and_no_temp_file(net, saved, monkeypatch, tmp_path):
    before = saved.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        bpx.save(net, saved)
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model.npz"]


SAVER = """
import sys, bpx, numpy as np
path = sys.argv[1]
net = bpx.MLP([64, 256, 256, 10], backend="numpy", seed=0)
print("ready", flush=True)
for i in range(100000):
    net.set_params([p + 1.0 for p in net.params])
    bpx.save(net, path)
"""


def test_killing_a_saving_process_never_leaves_a_broken_file(tmp_path):
    """A process saves over and over; SIGKILL at random moments; the file always loads (old or new)."""
    path = tmp_path / "model.npz"
    rng = np.random.default_rng(0)
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if path.exists():
            net = bpx.load(path, backend="numpy")
            assert net.layer_sizes == [64, 256, 256, 10]
    assert path.exists()
