"""Runs of tensor calls in scripted graphs, compiled for the inputs they meet
(``_script_segments``): values against torch, signatures, fallbacks, errors, aliasing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
from ardor.jit._runtime import CompiledGraph
from ardor.jit._script_segments import Segment


def _segments(scripted) -> list:
    return [v for k, v in scripted.compiled.globals.items() if isinstance(v, Segment)]


def _compiled(seg) -> list:
    return [v for v in seg.variants.values() if v is not False]


def _t(a):
    return torch.from_numpy(np.array(a.numpy()))


@jit.script
def _cell_loop(x, h, w, b, n: int):
    for i in range(n):
        a = x @ w
        h = ardor.tanh(a + b + h) * 0.5 + ardor.sigmoid(h) * 0.5
    if h.sum() > 0:
        h = h * h + 1
    else:
        h = -h
    return h


def _cell_loop_torch(x, h, w, b, n):
    for _ in range(n):
        h = torch.tanh(x @ w + b + h) * 0.5 + torch.sigmoid(h) * 0.5
    return h * h + 1 if h.sum() > 0 else -h


def test_segments_compile_and_match_torch():
    rng = np.random.default_rng(0)
    x, h = (ardor.tensor(rng.standard_normal((8, 16)).astype(np.float32)) for _ in range(2))
    w = ardor.tensor(rng.standard_normal((16, 16)).astype(np.float32) * 0.2)
    b = ardor.tensor(rng.standard_normal(16).astype(np.float32))   # broadcast over rows
    h0 = ardor.full((8, 16), -0.5)
    cases = [(h, 5), (h0, 0)]   # the if's then branch (h * h + 1 >= 1), and its else branch
    assert [bool((_cell_loop_torch(_t(x), _t(c), _t(w), _t(b), n) >= 1).all())
            for c, n in cases] == [True, False]
    with ardor.no_grad():
        for _ in range(4):   # warm-up calls, the tracing call, compiled calls
            for c, n in cases:
                want = _cell_loop_torch(_t(x), _t(c), _t(w), _t(b), n)
                got = _cell_loop(x, c, w, b, n)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    segs = _segments(_cell_loop)
    assert segs and "_seg" in _cell_loop.python_code
    compiled = [v for s in segs for v in _compiled(s)]
    assert compiled and all(isinstance(cg, CompiledGraph) for cg, _ in compiled)
    # the loop body's elementwise calls run as one fused kernel
    assert any(sum(n.kind == "fused" for n in cg.graph.nodes) for cg, _ in compiled)


def test_segments_of_a_module_take_its_parameters():
    class Layer(ardor.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = ardor.nn.Parameter(ardor.randn(4, 4))
            self.b = ardor.nn.Parameter(ardor.randn(4))

        def forward(self, x):
            return ardor.tanh(x @ self.w + self.b) * 2
    m = Layer()
    sm = jit.script(m)
    x = ardor.randn(3, 4)
    want = torch.tanh(_t(x) @ _t(m.w.detach()) + _t(m.b.detach())) * 2
    with ardor.no_grad():
        for _ in range(4):
            np.testing.assert_allclose(sm(x).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    (seg,) = _segments(sm)
    assert len(_compiled(seg)) == 1


def test_segments_take_each_signature_up_to_a_limit():
    @jit.script
    def f(x, s: float):
        return ardor.exp(x * s) - x
    with ardor.no_grad():
        for shape in [(3,), (2, 5), (4, 1), (7,), (1, 1), (6,)]:
            for s in (0.5, 0.5, 0.5, 2.0):
                x = ardor.randn(*shape)
                np.testing.assert_allclose(
                    f(x, s).numpy(), (torch.exp(_t(x) * s) - _t(x)).numpy(), rtol=1e-6)
    (seg,) = _segments(f)
    assert len(seg.variants) == Segment.MAX_VARIANTS   # then the calls run one by one
    seen = dict(seg.seen)
    with ardor.no_grad():
        for s in range(100):   # new signatures past the limit are not even counted
            f(ardor.ones(2), float(s))
    assert seg.seen == seen


def test_segment_counts_stay_bounded_for_ever_new_numbers():
    @jit.script
    def f(x, s: float):
        return ardor.exp(x * s) + x
    with ardor.no_grad():
        for s in range(3 * Segment.MAX_SEEN):
            x = ardor.ones(2)
            np.testing.assert_allclose(f(x, s / 100).numpy(),
                                       (torch.exp(_t(x) * (s / 100)) + _t(x)).numpy(),
                                       rtol=1e-6)
    (seg,) = _segments(f)
    assert len(seg.seen) <= Segment.MAX_SEEN and not seg.variants


def test_segment_that_would_not_generalize_runs_the_calls():
    @jit.script
    def f(x):
        s = x.sum().item()     # data turned into a Python number: no compiled variant
        return x * s + 1
    with ardor.no_grad():
        for k in range(4):
            x = ardor.full((3,), float(k))
            np.testing.assert_allclose(f(x).numpy(), (_t(x) * _t(x).sum() + 1).numpy())
    assert all(v is False for seg in _segments(f) for v in seg.variants.values())


def test_segment_errors_are_eagers_errors():
    @jit.script
    def f(x, y):
        return ardor.tanh(x) + y * 2
    a, b = ardor.ones(3), ardor.ones(4)
    with ardor.no_grad():
        for _ in range(3):
            with pytest.raises(RuntimeError) as e:
                f(a, b)
            with pytest.raises(RuntimeError):
                torch.tanh(_t(a)) + _t(b) * 2
            assert "scripted graph" in "".join(getattr(e.value, "__notes__", []))


def test_segment_results_do_not_alias_where_eagers_do_not():
    @jit.script
    def f(x):
        y = x + 0          # simplified to x when compiled: still a new tensor here
        z = x * 2
        w = x * 2          # merged with z when compiled: still two tensors here
        c = x.contiguous()  # x itself, in eager code and here
        y.add_(1)
        z.add_(1)
        return x, y, z, w, c
    with ardor.no_grad():
        for _ in range(4):
            x = ardor.arange(3.0)
            rx, y, z, w, c = f(x)
            assert rx.tolist() == [0.0, 1.0, 2.0] and y.tolist() == [1.0, 2.0, 3.0]
            assert z.tolist() == [1.0, 3.0, 5.0] and w.tolist() == [0.0, 2.0, 4.0]
            assert c is x
    assert any(_compiled(s) for s in _segments(f))


def test_segments_stay_out_of_gradient_runs():
    @jit.script
    def f(x):
        return ardor.tanh(x) * 3 + x
    x = ardor.randn(5, requires_grad=True)
    tx = _t(x.detach()).requires_grad_()
    for _ in range(3):
        f(x).sum().backward()
    (torch.tanh(tx) * 3 + tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * tx.grad.numpy(), rtol=1e-6)
    assert not any(s.seen for s in _segments(f))


def test_loop_temporaries_are_not_carried_out_of_segments():
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parents[2] / "benchmarks" / "jit.py"   # the benchmark's loop
    spec = importlib.util.spec_from_file_location("_bench_jit", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rnn_loop, _torch_rnn_loop = bench.rnn_loop, bench._torch_rnn_loop
    scripted = jit.script(rnn_loop)
    code = scripted.python_code
    # a and z are set in the body and read by nothing after it: the segment returns h only
    assert "add_2, = seg" in code and "loop_a, " not in code.split("for ")[1]
    rng = np.random.default_rng(1)
    arrs = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in
            [(6, 4, 8), (4, 8), (8, 8), (8, 8), (8,)]]
    want = _torch_rnn_loop(*[torch.tensor(a) for a in arrs], 6)
    with ardor.no_grad():
        for _ in range(3):
            got = scripted(*[ardor.tensor(a) for a in arrs], 6)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
    (seg,) = _segments(scripted)
    ((cg, _),) = _compiled(seg)
    assert sum(n.kind == "fused" for n in cg.graph.nodes) == 1
