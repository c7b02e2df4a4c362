"""Plain Python functions called from scripted code are compiled into the caller's graph
(as torch.jit.script compiles called functions recursively): results and gradients equal
eager ardor and torch.jit.script of the same code on both sides of the helper's
data-dependent ``if``; the graph saves and loads in a process that cannot import the
defining module. A helper that cannot be compiled still runs eagerly, and save names it."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit

from _jitmodels import import_defs, nodes_of

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# one source, two libraries: the ardor functions and the torch oracle are the same code
SOURCE = '''
import {lib} as torch


def helper(x, w, n: int):
    """A data-dependent if, a loop, and an early return."""
    if x.sum() > 0:
        y = x * w
    else:
        y = -x + w
    for i in range(n):
        y = torch.tanh(y) + x * i
        if y.mean() > 2.0:
            return y * 10
    return y


def middle(x, w, n: int):
    return helper(x, w, n) - helper(w, x, 1)


def entry(x, w, n: int):
    return middle(x, w, n).sum(0) * 2


def recursive(x, n: int):
    if n <= 0:
        return x
    return recursive(x * 2, n - 1)


def entry_recursive(x, n: int):
    return recursive(x, n) + 1


def unscriptable(x):
    return sum([x * i for i in range(3)])


def entry_unscriptable(x):
    return unscriptable(x) + 1
'''


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    """(ardor module, torch module, directory) of the source above, removed from
    sys.modules again (saved graphs must not need it)."""
    d = tmp_path_factory.mktemp("recursive_defs")
    am, tm = import_defs(d, SOURCE, "jit_recursive_defs")
    return am, tm, d


def _cases():
    rng = np.random.default_rng(5)
    for scale in (1.0, -1.0, 3.0, -3.0):  # both sides of the if, with and without return
        for n in (0, 2, 4):
            x = (rng.standard_normal((3, 4)) * scale).astype(np.float64)
            w = rng.standard_normal((3, 4)).astype(np.float64)
            yield x, w, n


def test_helpers_compile_in_and_match_eager_and_torch_script(defs):
    am, tm, _ = defs
    s = jit.script(am.entry)
    ts = torch.jit.script(tm.entry)
    fns = {n.attrs["fn"] for n in nodes_of(s.graph, "pycall")}
    assert not {am.helper, am.middle} & fns  # compiled in, not called
    signs = set()
    for x, w, n in _cases():
        xa, wa = ardor.tensor(x, requires_grad=True), ardor.tensor(w, requires_grad=True)
        xe, we = ardor.tensor(x, requires_grad=True), ardor.tensor(w, requires_grad=True)
        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        got, ref, tref = s(xa, wa, n), am.entry(xe, we, n), ts(xt, wt, n)
        np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), rtol=1e-6,
                                   atol=1e-6)
        np.testing.assert_allclose(got.detach().numpy(), tref.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
        for out in (got, ref, tref):
            (out * out).sum().backward()
        for a, e, t in ((xa, xe, xt), (wa, we, wt)):
            np.testing.assert_allclose(a.grad.numpy(), e.grad.numpy(), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)
        with ardor.no_grad():  # the generated runner
            np.testing.assert_allclose(s(ardor.tensor(x), ardor.tensor(w), n).numpy(),
                                       ref.detach().numpy(), rtol=1e-6, atol=1e-6)
        signs.add(bool(x.sum() > 0))
    assert signs == {True, False}


def test_saved_helper_graph_loads_without_the_defining_module(defs, tmp_path):
    am, _, _ = defs
    s = jit.script(am.entry)
    path = tmp_path / "entry.ardor"
    jit.save(s, str(path))
    cases = list(_cases())
    with ardor.no_grad():
        refs = np.stack([am.entry(ardor.tensor(x), ardor.tensor(w), n).numpy()
                         for x, w, n in cases])
    np.save(tmp_path / "xs.npy", np.stack([x for x, _, _ in cases]))
    np.save(tmp_path / "ws.npy", np.stack([w for _, w, _ in cases]))
    code = f'''
        import sys
        sys.modules["jit_recursive_defs_ardor_xyz"] = None   # importing it would fail
        import numpy as np, ardor, ardor.jit
        f = ardor.jit.load({str(path)!r})
        xs, ws = np.load({str(tmp_path / "xs.npy")!r}), np.load({str(tmp_path / "ws.npy")!r})
        ns = {[n for _, _, n in cases]!r}
        with ardor.no_grad():
            out = [f(ardor.tensor(x), ardor.tensor(w), n).numpy() for x, w, n in zip(xs, ws, ns)]
        np.save({str(tmp_path / "got.npy")!r}, np.stack(out))
    '''
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), refs, rtol=1e-6, atol=1e-6)


def test_recursive_helper_stays_a_call_and_runs(defs):
    am, tm, _ = defs
    s = jit.script(am.entry_recursive)
    calls = [n for n in nodes_of(s.graph, "pycall") if n.attrs["fn"] is am.recursive]
    assert len(calls) == 1 and "itself" in calls[0].attrs["why"]
    x = np.arange(4, dtype=np.float32)
    for n in (0, 3):
        np.testing.assert_allclose(s(ardor.tensor(x), n).numpy(),
                                   am.entry_recursive(ardor.tensor(x), n).numpy())
    with pytest.raises(ValueError, match="recursive"):
        jit.save(s, "unused.ardor")


def test_unscriptable_helper_runs_eagerly_and_save_names_it(defs, tmp_path):
    am, _, _ = defs
    s = jit.script(am.entry_unscriptable)
    calls = [n for n in nodes_of(s.graph, "pycall") if n.attrs["fn"] is am.unscriptable]
    assert len(calls) == 1 and "ListComp" in calls[0].attrs["why"]
    x = ardor.tensor(np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(s(x).numpy(), am.entry_unscriptable(x).numpy())
    with pytest.raises(ValueError, match=r"unscriptable.*not compiled"):
        jit.save(s, str(tmp_path / "bad.ardor"))


def test_ignored_and_library_functions_are_not_compiled_in():
    import math

    @jit.ignore
    def kept(x):
        return x + 1

    def f(x):
        return kept(x) * math.sqrt(4.0) + ardor.relu(x)
    s = jit.script(f)
    fns = {n.attrs["fn"] for n in nodes_of(s.graph, "pycall")}
    assert kept in fns and ardor.relu in fns
    x = ardor.tensor(np.array([-1.0, 2.0], np.float32))
    np.testing.assert_array_equal(s(x).numpy(), f(x).numpy())
