"""Dataset readers on small IDX / CIFAR files made here, and the bundled digits."""
import gzip
import os
import pickle

import numpy as np
import pytest

import ardor
from ardor.vision import datasets, transforms as T


def _write_idx(path, arr, gz=False):
    code = {np.uint8: 0x08, np.int32: 0x0C}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big")
                                                      for s in arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx_reader(tmp_path, cls, gz):
    rng = np.random.default_rng(0)
    raw = tmp_path / cls.__name__ / "raw"
    raw.mkdir(parents=True)
    imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7).astype(np.uint8)
    ext = ".gz" if gz else ""
    _write_idx(str(raw / f"t10k-images-idx3-ubyte{ext}"), imgs, gz)
    _write_idx(str(raw / f"t10k-labels-idx1-ubyte{ext}"), labels, gz)
    ds = cls(str(tmp_path), train=False, transform=T.ToTensor())
    assert len(ds) == 7
    x, y = ds[3]
    assert y == labels[3] and x.shape == (1, 28, 28)
    np.testing.assert_allclose(x.numpy()[0], imgs[3] / 255.0, rtol=1e-6)


def test_missing_root_names_expected_file(tmp_path):
    with pytest.raises(RuntimeError, match="train-images-idx3-ubyte"):
        datasets.MNIST(str(tmp_path), train=True)


def test_truncated_idx_is_reported(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(str(raw / "t10k-images-idx3-ubyte"), np.zeros((5, 28, 28), np.uint8))
    data = (raw / "t10k-images-idx3-ubyte").read_bytes()
    (raw / "t10k-images-idx3-ubyte").write_bytes(data[:100])
    _write_idx(str(raw / "t10k-labels-idx1-ubyte"), np.zeros(5, np.uint8))
    with pytest.raises(RuntimeError, match="truncated"):
        datasets.MNIST(str(tmp_path), train=False)


def test_mnist_download_without_network_says_so(tmp_path, monkeypatch):
    import urllib.request

    def no_net(*a, **k):
        raise OSError("network is unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", no_net)
    with pytest.raises(RuntimeError, match="no network"):
        datasets.MNIST(str(tmp_path), download=True)


def _cifar_files(root, cls):
    rng = np.random.default_rng(1)
    folder = root / cls.base_folder
    folder.mkdir()
    expected = []
    for name in cls.train_list + cls.test_list:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        key = cls.label_key.encode()
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, key: labels, b"batch_label": b"x"}, f, protocol=2)
        expected.append((name, data, labels))
    with open(folder / cls.meta["filename"], "wb") as f:
        pickle.dump({cls.meta["key"].encode(): [f"c{i}" for i in range(10)]}, f, protocol=2)
    return expected


@pytest.mark.parametrize("cls", [datasets.CIFAR10, datasets.CIFAR100])
def test_cifar_reader(tmp_path, cls):
    expected = _cifar_files(tmp_path, cls)
    ds = cls(str(tmp_path), train=True)
    assert len(ds) == 4 * len(cls.train_list)
    img, label = ds[1]
    arr = np.asarray(img)
    np.testing.assert_array_equal(arr, expected[0][1][1].reshape(3, 32, 32).transpose(1, 2, 0))
    assert label == expected[0][2][1]
    assert ds.classes[:2] == ["c0", "c1"]
    test = cls(str(tmp_path), train=False)
    assert len(test) == 4


def test_cifar_reader_refuses_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "PWNED"
    payload = b"\x80\x02cos\nsystem\nX" + len(f"touch {marker}").to_bytes(4, "little") + \
        f"touch {marker}".encode() + b"\x85R."
    for name in datasets.CIFAR10.train_list:
        (folder / name).write_bytes(payload)
    with pytest.raises(pickle.UnpicklingError, match="os.system"):
        datasets.CIFAR10(str(tmp_path))
    assert not marker.exists()


def test_bundled_digits_are_real_mnist():
    tr, te = datasets.Digits(train=True), datasets.Digits(train=False)
    assert (len(tr), len(te)) == (10000, 2000)
    assert [tr[i][1] for i in range(8)] == [5, 0, 4, 1, 9, 2, 1, 3]  # MNIST's first labels
    counts = np.bincount(tr.targets, minlength=10)
    assert counts.min() > 800
    img, _ = tr[0]
    assert img.dtype == np.uint8 and img.shape == (28, 28) and 20 < img.mean() < 60


def test_fakedata_and_folder(tmp_path):
    fd = datasets.FakeData(size=5, image_size=(1, 8, 8), num_classes=3,
                           transform=T.PILToTensor())
    a, b = fd[2], fd[2]
    assert a[1] == b[1] and (a[0].numpy() == b[0].numpy()).all() and a[0].shape == (1, 8, 8)
    with pytest.raises(IndexError):
        fd[5]
    for cls in ("b", "a"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            (tmp_path / cls / f"{i}.npy").write_bytes(b"x")
    ds = datasets.DatasetFolder(str(tmp_path), loader=lambda p: os.path.basename(p),
                                extensions=(".npy",))
    assert ds.classes == ["a", "b"] and [ds[i] for i in range(4)] == \
        [("0.npy", 0), ("1.npy", 0), ("0.npy", 1), ("1.npy", 1)]
    with pytest.raises(FileNotFoundError):
        datasets.DatasetFolder(str(tmp_path / "nope"), loader=print, extensions=(".npy",))
