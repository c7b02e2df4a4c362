"""Fused C kernels: disk cache (a second process compiles nothing), numpy fallback notice,
kernel numerics against torch for every vocabulary function."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import ardor
from ardor.jit import CompiledGraph, Graph

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROG = textwrap.dedent('''
    import subprocess, warnings, numpy as np, ardor, ardor.jit as jit
    from ardor.jit import _kernels
    calls = []
    real = subprocess.run
    def spy(cmd, *a, **k):
        if "-shared" in cmd:
            calls.append(cmd)
        return real(cmd, *a, **k)
    _kernels.subprocess.run = spy
    x = ardor.tensor(np.linspace(-3, 3, 1000, dtype=np.float32))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        f = jit.trace(lambda x: (x * 0.5).tanh() * x + 1.0, (x,))
        y = f(x).numpy()
    ref = np.tanh(x.numpy() * 0.5) * x.numpy() + 1.0
    assert np.allclose(y, ref, rtol=1e-5, atol=1e-6)
    kinds = [type(k).__name__ for k in f.compiled.kernels.values()]
    notes = [str(m.message) for m in w if "ardor.jit" in str(m.message)]
    print(len(calls), kinds, notes)
''')


def _run(env):
    r = subprocess.run([sys.executable, "-c", PROG], env={**os.environ, **env,
                                                          "PYTHONPATH": ROOT},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_disk_cache_second_process_compiles_nothing(tmp_path):
    env = {"ARDOR_CACHE_DIR": str(tmp_path)}
    first = _run(env)
    # the fused kernel; the GEMM library and the array-address reader where they load
    assert first.split()[0] in ("1", "2", "3"), first
    assert any(f.endswith(".so") for f in os.listdir(tmp_path))
    second = _run(env)
    assert second.startswith("0 "), second
    assert "[]" in second  # no notice


def test_numpy_fallback_with_one_line_notice(tmp_path):
    out = _run({"ARDOR_CACHE_DIR": str(tmp_path), "CC": "/nonexistent/cc"})
    assert "no C compiler found; fused kernels run with numpy" in out
    assert out.count("ardor.jit:") == 1


UNARY = {"exp": (torch.exp, -3, 3), "log": (torch.log, 0.1, 5), "sqrt": (torch.sqrt, 0.1, 5),
         "rsqrt": (torch.rsqrt, 0.1, 5), "tanh": (torch.tanh, -4, 4),
         "sigmoid": (torch.sigmoid, -6, 6), "sin": (torch.sin, -4, 4), "cos": (torch.cos, -4, 4),
         "erf": (torch.erf, -3, 3), "abs": (torch.abs, -3, 3), "floor": (torch.floor, -3, 3),
         "ceil": (torch.ceil, -3, 3), "trunc": (torch.trunc, -3, 3),
         "round": (torch.round, -3, 3), "sign": (torch.sign, -3, 3),
         "neg": (torch.neg, -3, 3), "relu": (torch.relu, -3, 3),
         "expm1": (torch.expm1, -1, 1), "log1p": (torch.log1p, -0.5, 2),
         "reciprocal": (torch.reciprocal, 0.5, 3), "frac": (torch.frac, -3, 3)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_kernel_numerics_vs_torch(dtype):
    # one kernel evaluating every unary function of the vocabulary (summed with weights)
    rng = np.random.default_rng(0)
    g = Graph()
    dt = ardor.float32 if dtype == np.float32 else ardor.float64
    xs, acc, ref = [], None, None
    for i, (name, (tf, lo, hi)) in enumerate(UNARY.items()):
        a = rng.uniform(lo, hi, (7, 5)).astype(dtype)
        a[0, 0] = np.round(a[0, 0]) + 0.5  # a rounding tie
        xs.append(a)
        p = g.placeholder(f"x{i}", a.shape, dt)
        v = g.call(name, (p,))
        acc = v if acc is None else g.call("add", (acc, g.call("mul", (v, float(i + 1)))))
        t = tf(torch.tensor(a))
        ref = t if ref is None else ref + t * float(i + 1)
    b = g.placeholder("b", (5,), dt)
    acc = g.call("where", (g.call("gt", (acc, b)), g.call("maximum", (acc, b)),
                           g.call("minimum", (acc, b))), {"dtype": dt})
    g.output(g.call("pow", (g.call("abs", (acc,)), 1.5)))
    bb = rng.standard_normal(5).astype(dtype)
    tb = torch.tensor(bb)
    tref = torch.where(ref > tb, torch.maximum(ref, tb), torch.minimum(ref, tb)).abs() ** 1.5
    cg = CompiledGraph(g, backend="c")
    assert [n.kind for n in cg.graph.nodes].count("fused") == 1
    assert type(next(iter(cg.kernels.values()))).__name__ == "CKernel"
    out = cg(*xs, bb)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, tref.numpy(), rtol=tol, atol=tol)
    assert out.dtype == dtype


def test_nan_propagates_through_fused_maximum():
    g = Graph()
    x = g.placeholder("x", (4,), ardor.float32)
    g.output(g.call("mul", (g.call("relu", (x,)), 2.0)))
    a = np.array([np.nan, -1.0, 2.0, np.inf], np.float32)
    out = CompiledGraph(g, backend="c")(a)
    np.testing.assert_array_equal(out, (torch.relu(torch.tensor(a)) * 2).numpy())


def test_noncontiguous_and_cast_inputs_stay_alive():
    # inputs that need a contiguous copy (strided slices, a transposed view, another
    # dtype) are copied for the kernel and must live until it has run
    g = Graph()
    x = g.placeholder("x", (2, 3, 8, 8), ardor.float32)
    s = [g.call("slice", (x,), {"dim": 3, "start": o, "stop": 8, "step": 2}) for o in (0, 1)]
    t = g.call("transpose", (s[0],), {"dims": (0, 1, 3, 2)})
    t2 = g.call("transpose", (t,), {"dims": (0, 1, 3, 2)})
    g.output(g.call("mul", (g.call("maximum", (t2, s[1])), 3.0)))
    xa = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    ref = np.maximum(xa[..., 0::2], xa[..., 1::2]) * 3
    for _ in range(3):
        np.testing.assert_array_equal(CompiledGraph(g, backend="c")(xa), ref)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork() (a DataLoader worker's start)")
def test_forked_child_runs_multithreaded_kernel_on_one_thread():
    # GNU OpenMP's pool does not survive fork(): a child entering a parallel region the
    # parent used hangs. The kernel must notice it is in a child and run on one thread.
    import multiprocessing as mp
    x = ardor.tensor(np.random.default_rng(0).standard_normal(1 << 21).astype(np.float32))
    f = ardor.jit.trace(lambda x: (x * 2 + 1).tanh() * x, (x,))
    kern = next(iter(f.compiled.kernels.values()))
    if not hasattr(kern, "ck"):
        pytest.skip("no C compiler: fused kernels run with numpy")
    kern.chosen, kern.ck.nt = kern.ck, 2          # the parent runs it on two threads
    want = f.compiled(x.numpy())
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def child():
        q.put(f.compiled(x.numpy()))
    p = ctx.Process(target=child)
    p.start()
    try:
        got = q.get(timeout=60)
    finally:
        p.join(10)
        if p.is_alive():
            p.kill()
    np.testing.assert_array_equal(got, want)
    assert p.exitcode == 0
