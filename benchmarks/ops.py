"""Per-op overhead and large-tensor throughput: ardor beside torch and numpy.

    python benchmarks/ops.py [--rounds 7]

Each row is the median over rounds of the best-of-N per-call time; rounds alternate between
the libraries so machine noise hits them alike. Ratios are ardor / torch and ardor / numpy.
Threads are pinned to 2 for all three (set before numpy/torch are imported).
"""
from __future__ import annotations

import argparse
import os
import statistics
import timeit

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import numpy as np  # noqa: E402

import ardor  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(2)
except ImportError:  # torch is optional here: its column is left empty
    torch = None


def _per_call(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def _tiny_cases(lib, numpy_like: bool):
    """Closures for the tiny-tensor cases on one library (None where it does not apply)."""
    if numpy_like:
        a = np.ones(8, np.float32)
        b = np.ones(8, np.float32)
        return {
            "add (8 el.)": lambda: np.add(a, b),
            "mul (8 el.)": lambda: np.multiply(a, b),
            "relu (8 el.)": lambda: np.maximum(a, 0),
            "add, requires_grad": None,
            "mul, requires_grad": None,
            "relu, requires_grad": None,
            "fwd+bwd per op (chain of 10)": None,
        }
    a = lib.ones(8)
    b = lib.ones(8)
    ag = lib.ones(8, requires_grad=True)
    relu = lib.relu if hasattr(lib, "relu") else (lambda x: x * (x > 0))

    def chain():
        y = ag
        for _ in range(10):
            y = y * 1.0001
        y.sum().backward()
    return {
        "add (8 el.)": lambda: a + b,
        "mul (8 el.)": lambda: a * b,
        "relu (8 el.)": lambda: relu(a),
        "add, requires_grad": lambda: ag + b,
        "mul, requires_grad": lambda: ag * b,
        "relu, requires_grad": lambda: relu(ag),
        "fwd+bwd per op (chain of 10)": chain,
    }


def _large_cases(lib, numpy_like: bool):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1 << 20).astype(np.float32)
    y = rng.standard_normal(1 << 20).astype(np.float32)
    m = rng.standard_normal((1024, 1024)).astype(np.float32)
    n = rng.standard_normal((1024, 1024)).astype(np.float32)
    if numpy_like:
        return {"add 1M": lambda: np.add(x, y), "exp 1M": lambda: np.exp(x),
                "matmul 1024^2": lambda: np.matmul(m, n)}
    tx, ty, tm, tn = (lib.from_numpy(v) for v in (x, y, m, n))
    return {"add 1M": lambda: tx + ty, "exp 1M": lambda: lib.exp(tx),
            "matmul 1024^2": lambda: tm @ tn}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    libs = [("ardor", ardor, False), ("numpy", np, True)]
    if torch is not None:
        libs.insert(1, ("torch", torch, False))
    for title, make, number, unit, scale in (
            ("per-op overhead on tiny tensors", _tiny_cases, 20000, "us", 1e6),
            ("large-tensor throughput", _large_cases, 20, "ms", 1e3)):
        cases = {name: make(lib, np_like) for name, lib, np_like in libs}
        results: dict = {}
        for _ in range(args.rounds):
            for name, _, _ in libs:
                for case, fn in cases[name].items():
                    if fn is not None:
                        n = number if "chain" not in case else max(number // 20, 50)
                        t = _per_call(fn, n)
                        if "chain" in case:
                            t /= 10  # per op of the chain
                        results.setdefault((case, name), []).append(t)
        print(f"\n{title} (median of {args.rounds} rounds, {unit} per call)")
        header = f"{'case':32s}" + "".join(f"{n:>10s}" for n, _, _ in libs) + \
            f"{'ardor/torch':>13s}{'ardor/numpy':>13s}"
        print(header)
        for case in cases["ardor"]:
            row = f"{case:32s}"
            med = {}
            for name, _, _ in libs:
                v = results.get((case, name))
                if v:
                    med[name] = statistics.median(v)
                    row += f"{med[name] * scale:10.3f}"
                else:
                    row += f"{'-':>10s}"
            for ref in ("torch", "numpy"):
                row += f"{med['ardor'] / med[ref]:13.2f}" if ref in med else f"{'-':>13s}"
            print(row)


if __name__ == "__main__":
    main()
