"""Data loaders, the bundled digits and the preprocessing the CLI stores with a model."""

import gzip
import json

import numpy as np
import pytest

from bpx import datasets
from bpx.data._preprocessing import LabelEncoder, Scaler, label_names, one_hot, random_split, sorted_classes, stratified_split


# -- the bundled digits ----------------------------------------------------------------------------------
def test_bundled_digits_equal_scikit_learns_copy():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    ref = sklearn_datasets.load_digits()
    ds = datasets.load_digits()
    np.testing.assert_array_equal(ds.X, ref.data)
    np.testing.assert_array_equal(ds.y, ref.target)


def test_bundled_digits_file_is_small_and_typed():
    ds = datasets.load_digits()
    assert ds.X.shape == (1797, 64) and ds.X.dtype == np.float64 and ds.y.shape == (1797,)
    assert ds.X.min() == 0 and ds.X.max() == 16 and sorted(set(ds.y.tolist())) == list(range(10))
    with np.load(ds.path) as f:
        assert f["X"].dtype == np.uint8 and f["y"].dtype.kind == "i"
    import os

    assert os.path.getsize(ds.path) < 200_000


# -- CSV -------------------------------------------------------------------------------------------------
def write(path, text):
    path.write_text(text)
    return path


def test_csv_with_the_label_last(tmp_path):
    ds = datasets.load(write(tmp_path / "d.csv", "a,b,c\n1,2,0\n3,4.5,1\n-1,0,1\n"))
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4.5], [-1, 0]])
    np.testing.assert_array_equal(ds.y, [0, 1, 1])
    assert ds.y.dtype.kind == "i" and ds.feature_names == ["a", "b"] and ds.label_column == "c"


def test_csv_label_column_by_conventional_name_by_option_and_by_number(tmp_path):
    p = write(tmp_path / "d.csv", "Target,a,b\n1,2,3\n0,5,6\n")
    ds = datasets.load(p)
    np.testing.assert_array_equal(ds.y, [1, 0])
    np.testing.assert_array_equal(ds.X, [[2, 3], [5, 6]])
    ds = datasets.load(p, label_column="a")
    np.testing.assert_array_equal(ds.y, [2, 5])
    ds = datasets.load(p, label_column="3")
    np.testing.assert_array_equal(ds.y, [3, 6])
    with pytest.raises(ValueError, match=r"d\.csv: no column named 'zz'; the columns are Target, a, b"):
        datasets.load(p, label_column="zz")
    with pytest.raises(ValueError, match="label column 9 does not exist"):
        datasets.load(p, label_column="9")


def test_csv_text_labels_are_kept_as_names(tmp_path):
    ds = datasets.load(write(tmp_path / "d.csv", "x1,x2,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n"))
    assert list(ds.y) == ["setosa", "virginica", "setosa"]
    assert list(label_names(ds.y)) == ["setosa", "virginica", "setosa"]


def test_csv_semicolon_and_tab_and_blank_lines(tmp_path):
    ds = datasets.load(write(tmp_path / "d.csv", "a;b;y\n\n1;2;0\n\n3;4;1\n"))
    np.testing.assert_array_equal(ds.X, [[1, 2], [3, 4]])
    ds = datasets.load(write(tmp_path / "d.tsv", "a\tb\ty\n1\t2\t0\n"))
    np.testing.assert_array_equal(ds.y, [0])


def test_csv_features_only_when_the_width_matches_the_model(tmp_path):
    ds = datasets.load(write(tmp_path / "d.csv", "a,b\n1,2\n3,4\n"), n_features=2)
    assert ds.y is None and ds.X.shape == (2, 2)


@pytest.mark.parametrize("text, where, what", [
    ("a,b,y\n1,2,0\n3,x,1\n", "row 3, column 2 ('b')", "not a number: 'x'"),
    ("a,b,y\n1,2,0\n3,4,1\n5,,1\n", "row 4, column 2 ('b')", "empty cell"),
    ("a,b,y\n1,nan,0\n", "row 2, column 2 ('b')", "non-finite value 'nan'"),
    ("a,b,y\n1,2,0\n\ninf,2,0\n", "row 4, column 1 ('a')", "non-finite value 'inf'"),
    ("a,b,y\n1,2,inf\n", "row 2, column 3 ('y')", "non-finite label 'inf'"),
    ("a,b,y\n1,2,\n", "row 2, column 3 ('y')", "empty label"),
])
def test_csv_errors_name_the_file_row_and_column(tmp_path, text, where, what):
    p = write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError) as info:
        datasets.load(p)
    message = str(info.value)
    assert message.startswith(str(p)) and where in message and what in message


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty"),
    ("\n\n  \n", "the file is empty"),
    ("a,b,y\n", "no rows"),
    ("a,b,y\n1,2\n", "row 2 has 2 columns, the header has 3"),
    ("y\n1\n", "no feature columns"),
])
def test_csv_refusals(tmp_path, text, message):
    p = write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=message) as info:
        datasets.load(p)
    assert str(p) in str(info.value)


# -- npz / npy -------------------------------------------------------------------------------------------
def test_npz_and_npy(tmp_path):
    X, y = np.arange(12.0).reshape(4, 3), np.array([0, 1, 0, 1])
    np.savez(tmp_path / "a.npz", X=X, y=y)
    ds = datasets.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    np.savez(tmp_path / "b.npz", x=X.astype(np.float32), Y=y)  # other spellings
    np.testing.assert_array_equal(datasets.load(tmp_path / "b.npz").y, y)
    np.savez(tmp_path / "c.npz", feats=X, lab=y)
    ds = datasets.load(tmp_path / "c.npz", x_key="feats", y_key="lab")
    np.testing.assert_array_equal(ds.y, y)
    np.save(tmp_path / "d.npy", X)
    ds = datasets.load(tmp_path / "d.npy")
    assert ds.y is None
    np.testing.assert_array_equal(ds.X, X)
    np.savez(tmp_path / "e.npz", X=np.zeros((2, 4, 4)), y=[0, 1])  # images are flattened
    assert datasets.load(tmp_path / "e.npz").X.shape == (2, 16)


def test_npz_refusals_name_the_file_and_list_the_keys(tmp_path):
    np.savez(tmp_path / "k.npz", features=np.zeros((2, 2)), labels=[0, 1])
    with pytest.raises(ValueError, match=r"k\.npz: no array 'X' \(or 'x'\); the file holds features, labels"):
        datasets.load(tmp_path / "k.npz")
    with pytest.raises(ValueError, match=r"no array named 'nope'; the file holds features, labels"):
        datasets.load(tmp_path / "k.npz", x_key="nope")
    np.savez(tmp_path / "m.npz", X=np.zeros((3, 2)), y=[0, 1])
    with pytest.raises(ValueError, match=r"m\.npz: X has 3 samples but y has 2"):
        datasets.load(tmp_path / "m.npz")
    X = np.zeros((3, 2))
    X[2, 1] = np.nan
    np.savez(tmp_path / "n.npz", X=X, y=[0, 1, 1])
    with pytest.raises(ValueError, match=r"n\.npz: non-finite value nan in X at sample 3, feature 2"):
        datasets.load(tmp_path / "n.npz")
    np.savez(tmp_path / "y.npz", X=np.zeros((2, 2)), y=[0.5, np.inf])
    with pytest.raises(ValueError, match=r"y\.npz: non-finite value in y at sample 2"):
        datasets.load(tmp_path / "y.npz")
    np.savez(tmp_path / "z.npz", X=np.zeros((0, 2)), y=np.zeros(0))
    with pytest.raises(ValueError, match=r"z\.npz: no rows"):
        datasets.load(tmp_path / "z.npz")
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"one\.npy: X is 1-D"):
        datasets.load(tmp_path / "one.npy")
    np.save(tmp_path / "nolab.npy", np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"nolab\.npy: the file holds no labels"):
        datasets.load(tmp_path / "nolab.npy", require_labels=True)


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "p.npz", X=np.array([{"a": 1}], dtype=object), y=[0])
    with pytest.raises(ValueError, match=r"p\.npz: array .X. holds Python objects, which only a pickle can restore"):
        datasets.load(tmp_path / "p.npz")


def test_generic_refusals(tmp_path):
    with pytest.raises(ValueError, match=r"nothere\.csv: no such file"):
        datasets.load(tmp_path / "nothere.csv")
    (tmp_path / "e.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"e\.npz: the file is empty"):
        datasets.load(tmp_path / "e.npz")
    (tmp_path / "d.feather").write_bytes(b"ARROW1....")
    with pytest.raises(ValueError, match=r"d\.feather: unknown data format '\.feather'; known: \.npz, \.npy, \.csv"):
        datasets.load(tmp_path / "d.feather")
    pytest.importorskip("pyarrow")
    (tmp_path / "d.parquet").write_bytes(b"PAR1....")
    with pytest.raises(ValueError, match=r"d\.parquet: not a readable Parquet file"):
        datasets.load(tmp_path / "d.parquet")
    with pytest.raises(TypeError, match="path must be a str"):
        datasets.load(3)


# -- HDF5 ------------------------------------------------------------------------------------------------
def test_hdf5_in_seed_003_layout(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    y = np.array([0, 1, 1, 0, 1])
    with h5py.File(tmp_path / "train_cat.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = X, y
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    ds = datasets.load(tmp_path / "train_cat.h5")
    assert ds.X.shape == (5, 48) and ds.classes == ["non-cat", "cat"]
    np.testing.assert_array_equal(ds.X, X.reshape(5, -1))
    np.testing.assert_array_equal(ds.y, y)
    assert list(label_names(ds.y, ds.classes)) == ["non-cat", "cat", "cat", "non-cat", "cat"]


def test_hdf5_generic_names_and_refusals(tmp_path):
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "g.h5", "w") as f:
        f["inputs"], f["outputs"] = np.ones((3, 2)), np.array([[0.5], [1.0], [2.0]])
    ds = datasets.load(tmp_path / "g.h5", x_key="inputs", y_key="outputs")
    assert ds.X.shape == (3, 2) and ds.y.shape == (3, 1) and ds.classes is None
    with pytest.raises(ValueError, match=r"g\.h5: no dataset 'X' \(or '\*_set_x'\); the file holds inputs, outputs"):
        datasets.load(tmp_path / "g.h5")
    with pytest.raises(ValueError, match=r"no dataset named 'zz'; the file holds inputs, outputs"):
        datasets.load(tmp_path / "g.h5", x_key="inputs", y_key="zz")
    with h5py.File(tmp_path / "both.h5", "w") as f:
        f["train_set_x"], f["test_set_x"] = np.ones((2, 2)), np.ones((2, 2))
    with pytest.raises(ValueError, match=r"several X datasets \(test_set_x, train_set_x\); choose one with --x-key"):
        datasets.load(tmp_path / "both.h5")
    (tmp_path / "garbage.h5").write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match=r"garbage\.h5: not a readable HDF5 file"):
        datasets.load(tmp_path / "garbage.h5")


# -- MNIST IDX -------------------------------------------------------------------------------------------
def idx_bytes(array):
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[array.dtype.type]
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 3, 2), dtype=np.uint8)
    labels = rng.integers(0, 10, 6).astype(np.uint8)
    suffix = ".gz" if gz else ""
    opener = gzip.open if gz else open
    with opener(tmp_path / f"t10k-images-idx3-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(images))
    with opener(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", "wb") as f:
        f.write(idx_bytes(labels))
    ds = datasets.load(tmp_path / f"t10k-images-idx3-ubyte{suffix}")  # the labels file is found by name
    np.testing.assert_array_equal(ds.X, images.reshape(6, -1))
    np.testing.assert_array_equal(ds.y, labels)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "pixels").write_bytes(idx_bytes(images))
    ds = datasets.load(tmp_path / "other" / "pixels", labels=tmp_path / f"t10k-labels-idx1-ubyte{suffix}")
    np.testing.assert_array_equal(ds.y, labels)
    assert datasets.load(tmp_path / "other" / "pixels").y is None


def test_idx_refusals(tmp_path):
    images = np.zeros((4, 2, 2), dtype=np.uint8)
    (tmp_path / "short-images-idx3-ubyte").write_bytes(idx_bytes(images)[:-3])
    with pytest.raises(ValueError, match=r"short-images-idx3-ubyte: IDX header announces shape \(4, 2, 2\)"):
        datasets.load(tmp_path / "short-images-idx3-ubyte")
    (tmp_path / "a-images-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "a-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(ValueError, match=r"a-images-idx3-ubyte: X has 4 samples but y has 3"):
        datasets.load(tmp_path / "a-images-idx3-ubyte")
    (tmp_path / "junk").write_bytes(b"\x01\x02\x03\x04junk")
    with pytest.raises(ValueError, match=r"junk: unknown data format '\(no extension\)'"):
        datasets.load(tmp_path / "junk")


# -- preprocessing ---------------------------------------------------------------------------------------
def test_scalers():
    X = np.array([[0.0, 2.0, 5.0], [4.0, 2.0, 15.0]])
    np.testing.assert_array_equal(Scaler("none").fit_transform(X), X)  # the values themselves, unscaled
    np.testing.assert_allclose(Scaler("255").fit_transform(X), X / 255)
    np.testing.assert_allclose(Scaler("max").fit_transform(X), X / 15)
    s = Scaler("standardize").fit(X)
    np.testing.assert_allclose(s.transform(X), [[-1, 0, -1], [1, 0, 1]])  # a constant feature: std 0 -> 1
    np.testing.assert_allclose(s.transform([[2.0, 3.0, 10.0]]), [[0, 1, 0]])
    for method in ("none", "255", "max", "standardize"):
        s = Scaler(method).fit(X)
        twin = Scaler.from_dict(json.loads(json.dumps(s.to_dict())))
        np.testing.assert_array_equal(twin.transform(X), s.transform(X))
    with pytest.raises(ValueError, match="scaling must be one of none, 255, max, standardize, got 'log'"):
        Scaler("log")
    with pytest.raises(ValueError, match="X has 2 features, but the scaling was fitted on 3"):
        Scaler("max").fit(X).transform(np.ones((1, 2)))
    with pytest.raises(ValueError, match="malformed 'standardize' scaling"):
        Scaler.from_dict({"method": "standardize", "mean": [0.0], "std": [0.0]})


def test_labels_encoding_and_one_hot():
    assert sorted_classes(["10", "9", "2"]) == ["2", "9", "10"]
    assert sorted_classes(["b", "a", "10"]) == ["10", "a", "b"]
    assert list(label_names(np.array([3.0, 1.0]))) == ["3", "1"]
    with pytest.raises(ValueError, match="class labels must be integers \\(or names\\); label 2 is 0.5"):
        label_names(np.array([1.0, 0.5]))
    enc = LabelEncoder().fit(["cat", "dog", "cat"])
    assert enc.classes == ["cat", "dog"]
    np.testing.assert_array_equal(enc.transform(["dog", "cat"]), [1, 0])
    assert list(enc.inverse_transform([1, 0])) == ["dog", "cat"]
    with pytest.raises(ValueError, match="labels hold class\\(es\\) unseen at training time: 'cow'; "
                                         "the model knows 'cat', 'dog'"):
        enc.transform(["cat", "cow"])
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="indices must lie in 0..2"):
        one_hot([3], 3)


def test_splits_are_seeded_disjoint_and_stratified():
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, test = stratified_split(y, 0.2, seed=1)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert [int(np.sum(y[test] == c)) for c in range(4)] == [10, 6, 3, 1]
    again = stratified_split(y, 0.2, seed=1)
    np.testing.assert_array_equal(again[1], test)
    assert not np.array_equal(stratified_split(y, 0.2, seed=2)[1], test)
    train, test = random_split(10, 0.3, seed=0)
    assert len(test) == 3 and not set(train) & set(test)
