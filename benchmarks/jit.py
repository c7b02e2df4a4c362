"""ardor.jit speed: fused elementwise kernels, compiled CNN inference, compiled MLP training
steps (a GEMM-bound 512-wide MLP and the classic MNIST MLP), each beside ardor eager, numpy
(where it applies) and torch eager.

    python benchmarks/jit.py [--rounds 7] [--quick]

Rows are medians over rounds of the best-of-N per-call time (rounds alternate between the
contenders so machine noise hits them alike). Threads are pinned to 2 for all (numpy's BLAS,
torch, and the OpenMP fused kernels).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import ardor  # noqa: E402
import ardor.jit as jit  # noqa: E402

try:
    import torch  # noqa: E402
    torch.set_num_threads(2)
except ImportError:  # pragma: no cover
    torch = None


def gelu_chain(x, tanh):
    """8 elementwise ops: x * (1 + tanh(0.79788456 * (x + 0.044715 * x**3)))."""
    t = x * x
    t = t * x
    t = t * 0.044715
    t = t + x
    t = t * 0.7978845608
    t = tanh(t)
    t = t + 1.0
    return t * x


def _time(fn, number):
    # bursts of at least ~20 ms: a training loop runs steadily, and a burst of a few short
    # calls would mostly time waking the thread pool up
    t = timeit.timeit(fn, number=1)
    number = max(number, int(0.02 / max(t, 1e-6)))
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def _median_rows(cases, rounds, number):
    res = {k: [] for k in cases}
    for _ in range(rounds):
        for k, fn in cases.items():
            if fn is not None:
                # let the previous contender's idle OpenMP workers stop spinning first
                # (torch's libgomp spins for milliseconds and would take our cores)
                time.sleep(0.05)
                res[k].append(_time(fn, number))
    return {k: statistics.median(v) if v else None for k, v in res.items()}


def bench_fused(rounds, n=1 << 22):
    rng = np.random.default_rng(0)
    xa = rng.standard_normal(n).astype(np.float32)
    x = ardor.tensor(xa)
    fused = jit.trace(lambda x: gelu_chain(x, ardor.tanh), (x,))
    cg = fused.compiled
    kinds = [type(k).__name__ for k in cg.kernels.values()]
    cases = {
        "fused (ardor.jit)": lambda: cg(xa),
        "numpy expression": lambda: gelu_chain(xa, np.tanh),
        "ardor eager": lambda: gelu_chain(x, ardor.tanh),
        "torch eager": (lambda tx=torch.tensor(xa): gelu_chain(tx, torch.tanh)) if torch else None,
    }
    ref = gelu_chain(xa.astype(np.float64), np.tanh)
    err = float(np.max(np.abs(cg(xa) - ref)))
    r = _median_rows(cases, rounds, 5)
    return r, f"GELU-like chain of 8 elementwise ops on {n} float32 (kernel: {kinds}, max abs " \
              f"err vs float64 {err:.1e})"


def rnn_loop(xs, h, wx, wh, b, n: int):
    """A GRU-like recurrence: per step two products and six elementwise ops."""
    for t in range(n):
        a = xs[t] @ wx + h @ wh + b
        z = ardor.sigmoid(a)
        h = z * h + (1 - z) * ardor.tanh(a)
    return h


def _torch_rnn_loop(xs, h, wx, wh, b, n: int):
    for t in range(n):
        a = xs[t] @ wx + h @ wh + b
        z = torch.sigmoid(a)
        h = z * h + (1 - z) * torch.tanh(a)
    return h


def bench_script_rnn(rounds, steps=32, batch=16, hidden=128):
    from ardor.jit._script_run import ScriptRunner
    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in
            [(steps, batch, hidden), (batch, hidden), (hidden, hidden), (hidden, hidden),
             (hidden,)]]
    args = [ardor.tensor(a) for a in arrs]
    scripted = jit.script(rnn_loop)
    calls_only = ScriptRunner(scripted.graph, "rnn", fuse=False)   # no compiled runs
    cases = {"ardor.jit.script": lambda: scripted(*args, steps),
             "script, calls one by one": lambda: calls_only(*args, steps),
             "ardor eager": lambda: rnn_loop(*args, steps)}
    if torch is not None:
        targs = [torch.tensor(a) for a in arrs]
        tscript = torch.jit.script(_torch_rnn_loop)
        cases["torch eager"] = lambda: _torch_rnn_loop(*targs, steps)
        cases["torch.jit.script"] = lambda: tscript(*targs, steps)
    with ardor.no_grad():
        want = rnn_loop(*args, steps).numpy()
        for _ in range(3):
            np.testing.assert_allclose(scripted(*args, steps).numpy(), want, rtol=1e-4,
                                       atol=1e-5)
        if torch is not None:
            torch.set_grad_enabled(False)
        try:
            r = _median_rows(cases, rounds, 5)
        finally:
            if torch is not None:
                torch.set_grad_enabled(True)
    return r, f"scripted GRU-like loop, {steps} steps, batch {batch}, hidden {hidden}, " \
              "no_grad"


def _copy_weights(am, tm):
    sd = {k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    am.load_state_dict(sd)


def _cnn(nn):
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, 10))


def bench_cnn(rounds, batch=32):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    tm, am = _cnn(torch.nn).eval(), _cnn(ardor.nn).eval()
    _copy_weights(am, tm)
    xa = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    x, tx = ardor.tensor(xa), torch.tensor(xa)
    traced = jit.freeze(jit.trace(am, (x,)))
    cg = traced.compiled

    def eager():
        with ardor.no_grad():
            return am(x)

    def teager():
        with torch.no_grad():
            return tm(tx)
    np.testing.assert_allclose(cg(xa), teager().numpy(), rtol=1e-3, atol=1e-4)
    cases = {"compiled (ardor.jit)": lambda: cg(xa), "ardor eager": eager,
             "torch eager": teager}
    return _median_rows(cases, rounds, 5), f"CNN inference (conv-bn-relu-pool x2 + linear), " \
                                           f"batch {batch}x3x32x32"


def _mlp(nn, sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# the GEMM-bound MLP of the first table, and the classic MNIST MLP (PyTorch's examples)
MLPS = {"wide": ((256, 512, 512, 512, 512, 10), 128), "mnist": ((784, 128, 64, 10), 64)}


# optimizer name -> its arguments (the same in ardor and torch)
OPTIMS = {"SGD": dict(lr=1e-3, momentum=0.9), "Adam": dict(lr=1e-3)}


def bench_train(rounds, which="wide", extra=None, optim="SGD"):
    sizes, batch = MLPS[which]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    tm, am = _mlp(torch.nn, sizes), _mlp(ardor.nn, sizes)
    _copy_weights(am, tm)
    xa = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    ya = rng.integers(0, sizes[-1], batch)
    x, y = ardor.tensor(xa), ardor.tensor(ya)
    tx, ty = torch.tensor(xa), torch.tensor(ya)
    opt = getattr(ardor.optim, optim)(am.parameters(), **OPTIMS[optim])
    topt = getattr(torch.optim, optim)(tm.parameters(), **OPTIMS[optim])
    loss_fn = ardor.nn.functional.cross_entropy

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(am(x), y)
        loss.backward()
        opt.step()
        return loss

    def tstep():
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tm(tx), ty)
        loss.backward()
        topt.step()
        return loss
    compiled = jit.compile(step)
    for _ in range(3):
        compiled(x, y)
    cases = {"compiled step (ardor.jit.compile)": lambda: compiled(x, y),
             "ardor eager": lambda: step(x, y), "torch eager": tstep, **(extra or {})}
    what = "SGD momentum" if optim == "SGD" else optim
    return _median_rows(cases, rounds, 5), f"MLP training step ({what}; " \
                                           f"{'-'.join(map(str, sizes))}, batch {batch})"


def bench_train_mnist(rounds):
    return bench_train(rounds, "mnist")


def bench_train_mnist_adam(rounds):
    return bench_train(rounds, "mnist", optim="Adam")


def bench_gemm_floor(rounds, which="wide"):
    """The matrix products of the MLP training step alone (ardor's GEMM, the layouts the
    step uses), timed in the same alternating rounds as the eager and compiled steps: no
    step can take less than their sum, so eager / sum bounds what compiling can gain on a
    GEMM-bound step."""
    from ardor._ops import _gemm
    sizes, batch = MLPS[which]
    rng = np.random.default_rng(0)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    prods = []   # (a, b): forward X @ W^T; backward dW = dY^T @ X, dX = dY @ W
    for i, (din, dout) in enumerate(zip(sizes[:-1], sizes[1:])):
        x, w, dy = f32(batch, din), f32(dout, din), f32(batch, dout)
        prods += [(x, w.T), (dy.T, x)] + ([(dy, w)] if i else [])
    outs = [np.empty((a.shape[0], b.shape[1]), np.float32) for a, b in prods]

    def products():
        for (a, b), o in zip(prods, outs):
            _gemm.mm(np, a, b, out=o)
    rows, title = bench_train(rounds, which,
                              {"its matrix products alone (floor)": products})
    return rows, title + f"; the floor: its {len(prods)} matrix products alone"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 3 if args.quick else args.rounds
    for fn in (bench_fused, bench_cnn, bench_gemm_floor, bench_train_mnist,
               bench_train_mnist_adam, bench_script_rnn):
        try:
            rows, title = fn(rounds)
        except Exception as e:  # noqa: BLE001 - report and go on
            print(f"\n{fn.__name__}: failed: {type(e).__name__}: {e}")
            continue
        first = next(iter(rows))
        base = rows[first]
        print(f"\n{title}")
        print(f"| {'':36s} | median ms | {first.split(' (')[0]} speedup |")
        print(f"|{'-' * 38}|-----------|{'-' * 20}|")
        for k, v in rows.items():
            if v is None:
                print(f"| {k:36s} |       n/a |                    |")
                continue
            print(f"| {k:36s} | {v * 1e3:9.3f} | {v / base:17.2f}x |")


if __name__ == "__main__":
    main()
