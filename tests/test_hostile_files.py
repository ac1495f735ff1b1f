"""A corpus of hostile and corrupt files, built in tmp_path: model files, checkpoints and data files that
are truncated, flipped, tampered with (and re-signed, as a forger would), zip and .npy bombs, FIFOs,
symlinks to /dev/zero, duplicate members, path-traversal names, pickles, HDF5 external storage,
malformed random streams, ...

Each is loaded in a subprocess under a memory cap (RLIMIT_AS) and a timeout, many per subprocess: every
case must end in a bpx error that names the file and the problem, or (where marked) a harmless load;
none may hang, blow the memory cap, be accepted silently or end in an unrelated traceback.
"""

import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import bpx
from bpx import datasets
from bpx.io._persistence import checksum
from bpx.utils import digest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_CAP = 2 << 30
TIMEOUT = 240

RUNNER = r'''
import json, re, resource, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))
import numpy as np
import bpx
from bpx import datasets
from bpx import ModelFileError
from bpx.training._checkpoint import CheckpointError

cases = json.load(open(sys.argv[1]))
rng = np.random.default_rng(0)
X, y = rng.normal(size=(20, 4)), np.arange(20) % 3
results = []
for case in cases:
    kind, path = case["kind"], case["path"]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if kind == "model":
                bpx.load(path, backend="numpy")
            elif kind == "data":
                datasets.load(path)
            elif kind == "lazy":  # opened lazily, then its first block read
                datasets.open_dask(path).X[:1].compute(scheduler="synchronous")
            else:
                net = bpx.MLP([4, 6, 3], backend="numpy", seed=0)
                before = [np.array(p) for p in net.params]
                try:
                    net.fit(X, y, epochs=case.get("epochs", 2), batch_size=8, optimizer=bpx.SGD(lr=0.1), verbose=0,
                            checkpoint=path, resume=True)
                finally:
                    case["untouched"] = all(np.array_equal(a, np.array(b)) for a, b in zip(before, net.params))
        results.append({"outcome": "loaded", "warnings": [str(w.message) for w in caught]})
    except (ModelFileError, CheckpointError, ValueError) as exc:
        results.append({"outcome": "refused", "type": type(exc).__name__, "message": str(exc),
                        "untouched": case.get("untouched")})
    except BaseException as exc:
        results.append({"outcome": "crashed", "type": type(exc).__name__, "message": str(exc)[:300]})
print(json.dumps(results))
'''


def run_cases(tmp_path, cases):
    listing = tmp_path / "cases.json"
    listing.write_text(json.dumps([{k: v for k, v in c.items() if k != "expect"} for c in cases]))
    env = dict(os.environ, PYTHONPATH=ROOT, BPX_BACKEND="numpy", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", RUNNER.replace("CAP", str(MEMORY_CAP)), str(listing)], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    problems = []
    for case, result in zip(cases, results):
        name, expect = case["name"], case["expect"]
        if expect == "loaded":
            if result["outcome"] != "loaded":
                problems.append(f"{name}: expected a harmless load, got {result}")
            continue
        if result["outcome"] != "refused":
            problems.append(f"{name}: expected a refusal matching {expect!r}, got {result}")
        elif os.path.basename(case["path"]) not in result["message"] or not __import__("re").search(expect, result["message"]):
            problems.append(f"{name}: the message does not name the file and {expect!r}: {result['message']!r}")
        elif result.get("untouched") is False:
            problems.append(f"{name}: refused, but the network was changed first")
    assert problems == [], "\n".join(problems)
    return results


# -- building blocks ------------------------------------------------------------------------------------------
def npy_bytes(array=None, header=None, data=b""):
    """A .npy member: a real array's bytes, or a hand-written header dict (and data) for lies."""
    if array is not None:
        import io

        f = io.BytesIO()
        np.save(f, array, allow_pickle=False)
        return f.getvalue()
    text = repr(header).encode("latin1")
    text += b" " * (63 - (len(text) + 12) % 64) + b"\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(text)) + text + data


def write_zip(path, members, compress=zipfile.ZIP_STORED):
    import warnings

    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression=compress) as z:
        warnings.simplefilter("ignore")  # a duplicate member is the point of one case
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name) if compress == zipfile.ZIP_STORED else name, data,
                       compress_type=compress)


def model_members(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def write_model(path, header, arrays, resign=True):
    if resign:
        header = dict(header, sha256=checksum(header, [arrays[n] for n in header["arrays"]]))
    blob = np.frombuffer(json.dumps(header).encode(), np.uint8)
    write_zip(path, [("header.npy", npy_bytes(blob))] + [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()])


@pytest.fixture
def model(tmp_path):
    net = bpx.MLP([4, 6, 3], backend="numpy", seed=0)
    net.classes = ["a", "b", "c"]
    net.metadata = {"preprocessing": {"scaling": {"method": "standardize", "mean": [0.0] * 4, "scale": [1.0] * 4}}}
    path = tmp_path / "good.npz"
    bpx.save(net, path)
    arrays = model_members(path)
    header = json.loads(arrays.pop("header").tobytes())
    return path, header, arrays


def test_hostile_model_files(tmp_path, model):
    good, header, arrays = model
    raw = good.read_bytes()
    cases = []

    def case(name, expect, data=None, build=None, kind="model"):
        path = tmp_path / f"{name}.npz"
        if data is not None:
            path.write_bytes(data)
        if build is not None:
            build(path)
        cases.append({"name": name, "kind": kind, "path": str(path), "expect": expect})

    case("empty", "the file is empty", data=b"")
    case("truncated", "not a bpx model file", data=raw[: len(raw) // 2])
    case("html", "not a bpx model file", data=b"<!DOCTYPE html><html><body>404</body></html>" * 10)
    import pickle

    case("pickle", "not a bpx model file", data=pickle.dumps({"W1": [1, 2]}))
    w1 = raw.index(arrays["W1"].tobytes()[:16])
    case("flipped-weight", "unreadable|checksum", data=raw[:w1] + bytes([raw[w1] ^ 1]) + raw[w1 + 1:])
    h = raw.index(b'"activation"')
    case("flipped-header", "unreadable|checksum|corrupted", data=raw[:h + 2] + bytes([raw[h + 2] ^ 1]) + raw[h + 3:])
    case("permuted-classes", "checksum mismatch",
         build=lambda p: write_model(p, dict(header, classes=["b", "a", "c"]), arrays, resign=False))
    case("changed-activation", "checksum mismatch",
         build=lambda p: write_model(p, dict(header, activation="tanh"), arrays, resign=False))
    case("resliced-sizes", "checksum mismatch|shape|class names",
         build=lambda p: write_model(p, dict(header, layer_sizes=[4, 3, 6]), arrays, resign=False))
    case("permuted-classes-resigned", "loaded",  # a forger who recomputes the checksum: a valid file
         build=lambda p: write_model(p, dict(header, classes=["b", "a", "c"]), arrays))
    case("short-class-list", "2 class names .* for 3 output unit",
         build=lambda p: write_model(p, dict(header, classes=["a", "b"]), arrays))
    case("scaling-wrong-length", "scaling's 'mean' has 3 entries for 4 input features",
         build=lambda p: write_model(p, dict(header, metadata={"preprocessing": {"scaling": {
             "method": "standardize", "mean": [0.0] * 3, "scale": [1.0] * 4}}}), arrays))
    for version in (0, -1):
        case(f"format-version{version}", "malformed format_version",
             build=lambda p, v=version: write_model(p, dict(header, format_version=v), arrays))
    case("nan-metadata", "corrupted header", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(dict(header, metadata={"x": float("nan")})).encode(),
                                               np.uint8)))] + [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()]))
    case("deep-json", "nested too deeply", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(b"[" * 100000 + b"]" * 100000, np.uint8)))]))
    case("duplicate-member", "twice", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8)))]
        + [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items()] + [("W1.npy", npy_bytes(arrays["W1"] + 1))]))
    case("traversal-name", "unexpected member name", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))),
        ("../../evil.npy", npy_bytes(arrays["W1"]))]))
    case("zip-bomb", "compressed", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))),
        ("W1.npy", npy_bytes(header={"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)},
                             data=bytes(1 << 22)))], compress=zipfile.ZIP_DEFLATED))
    case("declared-huge-shape", "declares|exceeds", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))),
        ("W1.npy", npy_bytes(header={"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 1 << 20)}))]
        + [(f"{k}.npy", npy_bytes(v)) for k, v in arrays.items() if k != "W1"]))
    case("no-magic", "no NumPy magic bytes", build=lambda p: write_zip(p, [("header.npy", b"{" * 200)]))
    case("object-header", "only a pickle can restore", build=lambda p: np.savez(
        p, header=np.array([{"format": "bpx.mlp"}], dtype=object)))
    case("large-npy-header", "header of .* bytes|limit", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(header={"descr": "|u1", "fortran_order": False, "shape": (3,), "pad": "x" * 70000},
                                 data=b"abc"))]))
    case("encrypted", "encrypted", build=lambda p: _encrypted(p, raw))
    # not regular files
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    cases.append({"name": "fifo", "kind": "model", "path": str(fifo), "expect": "not a regular file .a FIFO"})
    (tmp_path / "zero.npz").symlink_to("/dev/zero")
    cases.append({"name": "dev-zero", "kind": "model", "path": str(tmp_path / "zero.npz"),
                  "expect": "not a regular file .a character device"})
    (tmp_path / "folder.npz").mkdir()
    cases.append({"name": "directory", "kind": "model", "path": str(tmp_path / "folder.npz"),
                  "expect": "not a regular file .a directory"})
    # an old file (format 1, checksum over the weights only): still read, with a warning
    old = dict(header, format_version=1, sha256=digest([arrays[n] for n in header["arrays"]]))
    case("format-1", "loaded", build=lambda p: write_model(p, old, arrays, resign=False))
    results = run_cases(tmp_path, cases)
    old_result = results[[c["name"] for c in cases].index("format-1")]
    assert any("covers the weights only" in w for w in old_result["warnings"])


def _encrypted(path, raw):
    """The good file with the 'encrypted' flag set on its first member (local and central headers)."""
    data = bytearray(raw)
    data[6] |= 1  # local file header: general purpose flag
    central = data.rindex(b"PK\x01\x02")
    first = data.index(b"PK\x01\x02")
    assert first <= central
    data[first + 8] |= 1
    path.write_bytes(bytes(data))


# -- checkpoints ---------------------------------------------------------------------------------------------
@pytest.fixture
def checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 4)), np.arange(20) % 3
    path = tmp_path / "good.ckpt"
    bpx.MLP([4, 6, 3], backend="numpy", seed=0).fit(X, y, epochs=2, batch_size=8, optimizer=bpx.SGD(lr=0.1),
                                                     verbose=0, checkpoint=path)
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    header = json.loads(members.pop("header").tobytes())
    body = json.loads(members.pop("body").tobytes())
    return path, header, body, members


def write_checkpoint(path, header, body, members, resign=True, text=None):
    blob = np.frombuffer((text or json.dumps(body)).encode(), np.uint8)
    arrays = [members[f"a{k}"] for k in range(len(members))]
    if resign:
        header = dict(header, sha256=digest(arrays + [blob]))
    write_zip(path, [("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))),
                     ("body.npy", npy_bytes(blob))] + [(f"{k}.npy", npy_bytes(v)) for k, v in members.items()])


def test_hostile_checkpoints(tmp_path, checkpoint):
    good, header, body, members = checkpoint
    raw = good.read_bytes()
    cases = []

    def case(name, expect, data=None, build=None, epochs=2):
        path = tmp_path / f"{name}.ckpt"
        if data is not None:
            path.write_bytes(data)
        if build is not None:
            build(path)
        cases.append({"name": name, "kind": "checkpoint", "path": str(path), "expect": expect, "epochs": epochs})

    def state(**changes):
        b = json.loads(json.dumps(body))
        for key, value in changes.items():
            target = b["state"]
            *parents, last = key.split("__")
            for p in parents:
                target = target[p]
            target[last] = value
        return b

    case("resume-fewer-epochs", "already holds 2 complete epochs, more than epochs=1", data=raw, epochs=1)
    case("truncated", "not a bpx checkpoint", data=raw[: len(raw) * 2 // 3])
    e = raw.index(b'"epoch"') + 3
    case("flipped", "checksum|unreadable", data=raw[:e] + bytes([raw[e] ^ 4]) + raw[e + 1:])
    case("lr-tampered", "optimizer lr 0.5, this run's is 0.1",
         build=lambda p: write_checkpoint(p, header, state(optimizer__hyper__lr=0.5), members))
    case("added-attribute", "optimizer attribute 'step'",
         build=lambda p: write_checkpoint(p, header, state(optimizer__hyper__step=1), members))
    case("negative-epoch", "epoch -1 is not a count", build=lambda p: write_checkpoint(p, header, state(epoch=-1), members))
    case("bad-rng", "malformed random stream 'shuffle'",
         build=lambda p: write_checkpoint(p, header, state(rng__shuffle={"bit_generator": "PCG64", "state": 3}), members))
    case("bad-array-ref", "malformed state",
         build=lambda p: write_checkpoint(p, header, state(params=[{"__array__": 99}]), members))
    case("bad-float", "malformed state",
         build=lambda p: write_checkpoint(p, header, state(history={"__float__": "1e999999"}), members))
    case("wrong-param-count", "parameter arrays",
         build=lambda p: write_checkpoint(p, header, state(params=[{"__array__": 0}]), members))
    case("deep-body", "nested too deeply",
         build=lambda p: write_checkpoint(p, header, None, members, text="[" * 100000 + "]" * 100000))
    case("huge-header", "exceeds", build=lambda p: write_checkpoint(p, dict(header, pad="x" * (1 << 17)), body, members))
    case("format-0", "checkpoint format 0", build=lambda p: write_checkpoint(p, dict(header, format_version=0), body,
                                                                             members))
    case("zip-bomb", "compressed", build=lambda p: write_zip(p, [
        ("header.npy", npy_bytes(np.frombuffer(json.dumps(header).encode(), np.uint8))),
        ("body.npy", npy_bytes(header={"descr": "|u1", "fortran_order": False, "shape": (1 << 31,)},
                               data=bytes(1 << 22)))], compress=zipfile.ZIP_DEFLATED))
    case("another-data-shape", "training rows differs", build=lambda p: write_checkpoint(
        p, header, dict(body, identity=dict(body["identity"], rows=21)), members))
    fifo = tmp_path / "fifo.ckpt"
    os.mkfifo(fifo)
    cases.append({"name": "fifo", "kind": "checkpoint", "path": str(fifo), "expect": "not a regular file .a FIFO"})
    (tmp_path / "zero.ckpt").symlink_to("/dev/zero")
    cases.append({"name": "dev-zero", "kind": "checkpoint", "path": str(tmp_path / "zero.ckpt"),
                  "expect": "not a regular file .a character device"})
    run_cases(tmp_path, cases)


# -- data files ------------------------------------------------------------------------------------------------
def test_hostile_data_files(tmp_path):
    cases = []

    def case(name, ext, expect, data=None, build=None):
        path = tmp_path / f"{name}{ext}"
        if data is not None:
            path.write_bytes(data)
        if build is not None:
            build(path)
        cases.append({"name": name, "kind": "data", "path": str(path), "expect": expect})

    big = {"descr": "|u1", "fortran_order": False, "shape": (20000, 20000)}
    case("uint8-bomb", ".npz", r"declares shape \(20000, 20000\) \(3.0 GiB as float64\), more than this process",
         build=lambda p: write_zip(p, [("X.npy", npy_bytes(header=big, data=bytes(1 << 16))),
                                       ("y.npy", npy_bytes(np.zeros(20000, np.int64)))], compress=zipfile.ZIP_DEFLATED))
    case("npy-huge-shape", ".npy", "declares shape", data=npy_bytes(header=dict(big, shape=(1 << 40, 1 << 30))))
    case("npy-large-header", ".npy", "header of .* bytes.*limit",
         data=npy_bytes(header=dict(big, shape=(2, 2), pad="x" * 70000), data=bytes(4)))
    case("html-as-npy", ".npy", "not a .npy array", data=b"<html><body>not found</body></html>")
    case("npy-too-short", ".npy", "declares 400 bytes of data, the file holds 8",
         data=npy_bytes(header={"descr": "<f8", "fortran_order": False, "shape": (10, 5)}, data=bytes(8)))
    case("npz-duplicates", ".npz", "twice", build=lambda p: write_zip(p, [
        ("X.npy", npy_bytes(np.ones((3, 2)))), ("y.npy", npy_bytes(np.zeros(3))), ("X.npy", npy_bytes(np.ones((3, 2))))]))
    case("npz-pickle", ".npz", "only a pickle can restore", build=lambda p: np.savez(
        p, X=np.array([{"a": 1}], dtype=object), y=[0]))
    case("idx-overflow", ".idx", "declares shape", data=b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3)
    case("idx-longer", ".idx", "the file holds more than that",
         data=b"\x00\x00\x08\x02" + struct.pack(">II", 2, 2) + bytes(4 + (1 << 20)))
    case("csv-long-field", ".csv", "row 2: not readable as CSV",
         data=b"a,label\n" + b"1" * 200000 + b",0\n")
    case("csv-no-header", ".csv", "row 1 .* is all numbers, so the file has no header row",
         data=b"1,2,0\n3,4,1\n5,6,0\n")
    case("csv-duplicate-header", ".csv", "the column name 'a' appears twice .columns 1 and 2.",
         data=b"a,a,label\n1,2,0\n3,4,1\n")
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    cases.append({"name": "fifo", "kind": "data", "path": str(fifo), "expect": "not a regular file .a FIFO"})
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    cases.append({"name": "dev-zero", "kind": "data", "path": str(tmp_path / "zero.npy"),
                  "expect": "not a regular file .a character device"})
    (tmp_path / "folder.csv").mkdir()
    cases.append({"name": "directory", "kind": "data", "path": str(tmp_path / "folder.csv"),
                  "expect": "not a regular file .a directory"})
    for name, build, host, _ in hdf5_files(tmp_path):
        case(name, ".h5", host, build=build)
    run_cases(tmp_path, cases)


def hdf5_files(tmp_path):
    """The hostile HDF5 files (none without h5py): ``(name, build, the host loader's refusal, the lazy
    Dask opener's)``. Both refuse, with the same message, every dataset whose data is not stored in the
    file (external raw storage, virtual, behind a soft or external link); the lazy opener takes a
    declared size beyond memory (it reads block by block), the host loader refuses it."""
    try:
        import h5py
    except ImportError:
        return []
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(16, dtype=np.float64).tobytes())
    source = tmp_path / "source.h5"
    with h5py.File(source, "w") as f:
        f["data"] = np.ones((4, 4))

    def external(p):
        with h5py.File(p, "w") as f:
            f.create_dataset("X", shape=(4, 4), dtype="<f8", external=[(str(secret), 0, 128)])
            f["y"] = np.zeros(4)

    def virtual(p):
        layout = h5py.VirtualLayout(shape=(4, 4), dtype="f8")
        layout[:] = h5py.VirtualSource(str(source), "data", shape=(4, 4))
        with h5py.File(p, "w") as f:
            f.create_virtual_dataset("X", layout)
            f["y"] = np.zeros(4)

    def soft_link(p):
        with h5py.File(p, "w") as f:
            f["data"] = np.ones((4, 4))
            f["X"] = h5py.SoftLink("/data")
            f["y"] = np.zeros(4)

    def external_link(p):
        with h5py.File(p, "w") as f:
            f["X"] = h5py.ExternalLink(str(source), "/data")
            f["y"] = np.zeros(4)

    def virtual_labels(p):
        layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
        layout[:] = h5py.VirtualSource(str(source), "data", shape=(4, 4))[0]
        with h5py.File(p, "w") as f:
            f["X"] = np.ones((4, 4))
            f.create_virtual_dataset("y", layout)

    def empty_chunked(p):
        with h5py.File(p, "w") as f:
            f.create_dataset("X", shape=(1 << 20, 1 << 12), dtype="u1", chunks=(1024, 64))
            f["y"] = np.zeros(1 << 20)

    return [("h5-external", external, "keeps its data in external file", "keeps its data in external file"),
            ("h5-virtual", virtual, "is a virtual dataset", "is a virtual dataset"),
            ("h5-virtual-labels", virtual_labels, "dataset 'y' is a virtual dataset", "dataset 'y' is a virtual dataset"),
            ("h5-soft-link", soft_link, "no dataset 'X'", "no dataset 'X'"),
            ("h5-external-link", external_link, "no dataset 'X'", "no dataset 'X'"),
            ("h5-empty-chunked", empty_chunked, "declares shape", "loaded")]


def test_hostile_hdf5_files_on_the_lazy_dask_path(tmp_path, capsys):
    """The lazy Dask opener (``bpx.datasets.open_dask``, ``bpx train --backend dask``) refuses what the
    host loader refuses, with the same message: both open HDF5 through bpx/data/_hdf5.py."""
    pytest.importorskip("h5py", reason="needs h5py")
    pytest.importorskip("dask.array", reason="needs dask[array]")
    from bpx.cli import main

    files = hdf5_files(tmp_path)
    cases = []
    for name, build, _, lazy in files:
        path = tmp_path / f"{name}.h5"
        build(path)
        cases.append({"name": name, "kind": "lazy", "path": str(path), "expect": lazy})
    run_cases(tmp_path, cases)
    for case in cases:
        if case["expect"] == "loaded":
            continue
        status = main(["train", "--backend", "dask", "--data", case["path"], "--out", str(tmp_path / "m.npz"),
                       "--epochs", "1", "--verbose", "0"])
        err = capsys.readouterr().err
        assert status == 1 and err.startswith(f"bpx train: error: {case['path']}: "), (case["name"], err)
        assert __import__("re").search(case["expect"], err), (case["name"], err)
    assert not (tmp_path / "m.npz").exists()


def test_an_hdf5_file_changed_after_a_lazy_open_is_refused_when_read(tmp_path):
    """Each task that reads a block opens and checks the file again: swapped for one whose X lives in
    an external file after ``open_dask``, it is refused, not read."""
    h5py = pytest.importorskip("h5py", reason="needs h5py")
    pytest.importorskip("dask.array", reason="needs dask[array]")
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = np.ones((4, 4)), np.zeros(4)
    ds = datasets.open_dask(path)
    np.testing.assert_array_equal(ds.X.compute(), np.ones((4, 4)))
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(16, dtype=np.float64).tobytes())
    path.unlink()
    with h5py.File(path, "w") as f:
        f.create_dataset("X", shape=(4, 4), dtype="<f8", external=[(str(secret), 0, 128)])
        f["y"] = np.zeros(4)
    with pytest.raises(ValueError, match="dataset 'X' keeps its data in external file"):
        ds.X.compute(scheduler="synchronous")
