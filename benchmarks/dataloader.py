"""DataLoader throughput (samples/s) with num_workers 0 and 2: ardor beside torch.

    python benchmarks/dataloader.py [--rounds 5] [--samples 4096]

The dataset does real per-sample work in numpy (decode-like copy, random crop, flip,
normalize of a 3x32x32 image), identical for both libraries; only the DataLoader and the
tensor type differ. Rounds alternate between libraries; medians are printed.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402

import ardor  # noqa: E402
import ardor.utils.data as adata  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.utils.data as tdata  # noqa: E402
    torch.set_num_threads(1)
except ImportError:
    torch = None


def _dataset(lib_data, to_tensor, n):
    class Work(lib_data.Dataset):
        def __init__(self):
            self.images = np.random.default_rng(0).integers(0, 256, (256, 36, 36, 3),
                                                            dtype=np.uint8)

        def __len__(self):
            return n

        def __getitem__(self, i):
            rng = np.random.default_rng(i)
            img = self.images[i % 256]
            y, x = rng.integers(0, 5, 2)
            crop = img[y:y + 32, x:x + 32].astype(np.float32) / 255.0
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            chw = np.ascontiguousarray(crop.transpose(2, 0, 1))
            chw = (chw - 0.5) / 0.25
            return to_tensor(chw), i % 10
    return Work()


def _rate(make_loader, n) -> float:
    t0 = time.perf_counter()
    count = 0
    for x, _ in make_loader():
        count += x.shape[0]
    assert count == n
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--samples", type=int, default=4096)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    n, bs = args.samples, args.batch_size
    libs = {"ardor": (adata, ardor.from_numpy)}
    if torch is not None:
        libs["torch"] = (tdata, torch.from_numpy)
    results: dict = {}
    for _ in range(args.rounds):
        for workers in (0, 2):
            for name, (data, conv) in libs.items():
                ds = _dataset(data, conv, n)
                rate = _rate(lambda: data.DataLoader(ds, batch_size=bs, shuffle=True,
                                                     num_workers=workers), n)
                results.setdefault((name, workers), []).append(rate)
    print(f"DataLoader throughput, samples/s (median of {args.rounds}; batch {bs}, {n} samples)")
    print(f"{'num_workers':>12s}{'ardor':>12s}{'torch':>12s}{'ardor/torch':>14s}")
    for workers in (0, 2):
        a = statistics.median(results[("ardor", workers)])
        t = statistics.median(results[("torch", workers)]) if torch is not None else None
        print(f"{workers:>12d}{a:>12.0f}" + (f"{t:>12.0f}{a / t:>14.2f}" if t else ""))


if __name__ == "__main__":
    main()
