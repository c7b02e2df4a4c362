"""nn basics beside torch: Module call overhead, an MLP step, convolutions (LeNet, the cnn
workload's conv2, a ResNet block), an LSTM layer over 64 steps, MultiheadAttention at seq 128.

    python benchmarks/nn_basic.py [--rounds 5]

Each case runs in both libraries back to back (which goes first alternates by round); each
cell is the median over rounds of the best-of-3 mean time per call. Gradients are fed as dense random tensors (not ``.sum()``) so both
libraries run the same backward kernels. Threads are pinned to 2 for numpy and torch.
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
except ImportError:  # pragma: no cover
    torch = None


def _cases(lib):
    nn = lib.nn
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    cases = {}
    lin = nn.Linear(64, 32)
    x = lib.tensor(rng.standard_normal((16, 64)).astype(np.float32))
    cases["Linear(64,32) call, batch 16"] = (lambda: lin(x), 2000)
    mlp = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.GELU(),
                        nn.Linear(256, 10))
    xm = lib.tensor(rng.standard_normal((128, 256)).astype(np.float32))
    gm = lib.tensor(rng.standard_normal((128, 10)).astype(np.float32))

    def mlp_step():
        mlp(xm).backward(gm)
    cases["MLP 256-256-256-10 fwd+bwd, batch 128"] = (mlp_step, 50)
    convs = (("Conv2d LeNet conv1 64x1x28x28 1->32 k3 (input no grad)", (64, 1, 28), 32, 3, 0,
              False),
             ("Conv2d LeNet conv2 16x6x14x14 6->16 k5", (16, 6, 14), 16, 5, 0, True),
             ("Conv2d cnn conv2 64x32x26x26 32->64 k3", (64, 32, 26), 64, 3, 0, True),
             ("Conv2d ResNet block 32x64x56x56 64->64 k3 p1", (32, 64, 56), 64, 3, 1, True))
    for name, (n, c, hw), cout, k, pad, xgrad in convs:
        conv = nn.Conv2d(c, cout, k, padding=pad)
        xc = lib.tensor(rng.standard_normal((n, c, hw, hw)).astype(np.float32),
                        requires_grad=xgrad)
        gc = lib.tensor(rng.standard_normal(tuple(conv(xc).shape)).astype(np.float32))

        def conv_step(conv=conv, xc=xc, gc=gc):
            conv(xc).backward(gc)
        cases[name + " fwd+bwd"] = (conv_step, 2 if n * c * hw * hw > 1e6 else 10)
    lstm = nn.LSTM(64, 256, batch_first=True)
    xl = lib.tensor(rng.standard_normal((32, 64, 64)).astype(np.float32), requires_grad=True)
    gl = lib.tensor(rng.standard_normal((32, 64, 256)).astype(np.float32))

    def lstm_step():
        lstm(xl)[0].backward(gl)
    cases["LSTM(64, 256) batch 32 seq 64 fwd+bwd"] = (lstm_step, 3)
    for need in (True, False):
        mha = nn.MultiheadAttention(64, 4, batch_first=True)
        q = lib.tensor(rng.standard_normal((8, 128, 64)).astype(np.float32),
                       requires_grad=True)
        g = lib.tensor(rng.standard_normal((8, 128, 64)).astype(np.float32))

        def fwd(mha=mha, q=q, need=need):
            mha(q, q, q, need_weights=need)

        def step(mha=mha, q=q, g=g, need=need):
            mha(q, q, q, need_weights=need)[0].backward(g)
        cases[f"MHA(64, 4 heads) N=8 L=128 need_weights={need} fwd"] = (fwd, 10)
        cases[f"MHA(64, 4 heads) N=8 L=128 need_weights={need} fwd+bwd"] = (step, 5)
    return cases


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    libs = [("ardor", ardor)] + ([("torch", torch)] if torch is not None else [])
    cases = {name: _cases(lib) for name, lib in libs}
    times = {name: {k: [] for k in cases[name]} for name, _ in libs}
    for r in range(args.rounds):
        # case by case, the libraries back to back (first one alternating by round), so
        # machine noise and the previous case's leftovers hit both alike
        for k in cases["ardor"]:
            for name, _lib in (libs if r % 2 == 0 else libs[::-1]):
                fn, n = cases[name][k]
                fn()
                times[name][k].append(min(timeit.repeat(fn, number=n, repeat=3)) / n)
    print(f"{'case':66s} {'ardor':>10s} {'torch':>10s} {'ratio':>6s}")
    for k in cases["ardor"]:
        ta = statistics.median(times["ardor"][k])
        tt = statistics.median(times["torch"][k]) if torch is not None else float("nan")
        print(f"{k:66s} {ta * 1e3:9.3f}ms {tt * 1e3:9.3f}ms {ta / tt:6.2f}")


if __name__ == "__main__":
    main()
