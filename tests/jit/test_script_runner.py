"""The generated runner of scripted graphs (``ScriptFunction.compiled``): Python if/for/
while source equal to the interpreter (``run_region``) and to eager Python for inputs on
every branch and for data-dependent trip counts (0, 1, many, break, continue, early
return); taken when autograd would record nothing, the interpreter otherwise; errors
raised unchanged with a note naming the operation."""
from __future__ import annotations

import io
import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
import ardor.nn as nn
import ardor.nn.functional as F
from ardor.jit import _script_run

from _jitmodels import example, pair_model
from test_script import RNNish, _seq_wrapper, branchy, uses_helper

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def _flat(r):
    if isinstance(r, ardor.Tensor):
        return [r.detach().numpy()]
    if isinstance(r, (tuple, list)):
        return [x for v in r for x in _flat(v)]
    return [r]


def _same(a, b, exact=True):
    fa, fb = _flat(a), _flat(b)
    assert len(fa) == len(fb)
    for x, y in zip(fa, fb):
        if isinstance(x, np.ndarray):
            assert isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape
            if exact:
                np.testing.assert_array_equal(x, y)
            else:
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
        else:
            assert type(x) is type(y) and x == y


def _both(sf, *args):
    """(generated runner result, interpreter result) of a ScriptFunction on ``args``."""
    vals = sf._bind(args)
    with ardor.no_grad():
        return sf.compiled(*vals), _script_run.run_region(sf.graph, {}, vals)


def loops(x, n: int):
    acc = x * 0
    for i in range(n):
        if i % 3 == 2:
            continue
        acc = acc + x * i
        if acc.sum() > 50:
            break
    k = 0
    while acc.abs().sum() < 20:
        acc = acc + x.abs() + 0.5
        k += 1
        if k > 6:
            return acc, -k
    for j in range(2, n, 2):
        if acc.max() > 100:
            return acc * 0, j
        acc = acc * 1.5
    return acc, k


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 30])
@pytest.mark.parametrize("scale", [0.0, 0.01, 1.0, 3.0, -2.0])
def test_loops_break_continue_early_return_match_interpreter_and_python(n, scale):
    s = jit.script(loops)
    x = ardor.tensor(np.array([1.0, -2.0, 0.5], np.float32) * scale)
    gen, interp = _both(s, x, n)
    _same(gen, interp)
    _same(gen, loops(x, n))


def test_loop_paths_are_all_taken():
    """The cases above reach every exit: the while loop's early return, the range loop's
    break and early return, and the plain end."""
    exits = set()
    for n in (0, 1, 2, 3, 7, 30):
        for scale in (0.0, 0.01, 1.0, 3.0, -2.0):
            x = ardor.tensor(np.array([1.0, -2.0, 0.5], np.float32) * scale)
            acc, k = loops(x, n)
            exits.add("while-return" if k < 0 else "for-return" if not acc.abs().sum()
                      else "end")
    assert exits == {"while-return", "for-return", "end"}


@pytest.mark.parametrize("scale,n,flag", [(1.0, 5, True), (-0.5, 2, False), (-3.0, 0, True),
                                          (0.0, 9, True), (2.0, 1, False)])
def test_branchy_generated_equals_interpreter_and_eager(scale, n, flag):
    s = jit.script(branchy)
    x = ardor.tensor(np.array([1.0, 2.0, 0.5], np.float32) * scale)
    gen, interp = _both(s, x, n, flag)
    _same(gen, interp)
    _same(gen, branchy(x, n, flag))


def test_calls_optionals_and_lists():
    s = jit.script(uses_helper)
    for v in ([1.0, -2.0, 3.0, 0.5], [-1.0, -2.0, 0.25, 0.0]):
        x = ardor.tensor(np.array(v, np.float32))
        for sizes in ([1, 3, 4], [], [2]):
            gen, interp = _both(s, x, sizes)
            _same(gen, interp)
            _same(gen, uses_helper(x, sizes))


def _models():
    ardor.manual_seed(0)
    out = {"rnn": (RNNish(), lambda rng, k: (ardor.tensor(
        rng.standard_normal((k, 2, 4)).astype(np.float32)),))}
    for kind in ("mlp", "cnn", "block"):
        am, _ = pair_model(kind)
        out[kind] = (am if kind == "block" else _seq_wrapper(am),
                     lambda rng, k, kind=kind: (ardor.tensor(example(kind, rng, batch=k)),))
    return out


@pytest.mark.parametrize("name", ["rnn", "mlp", "cnn", "block"])
def test_models_generated_equals_interpreter_eager_and_torch(name):
    m, make = _models()[name]
    sm = jit.script(m)
    rng = np.random.default_rng(0)
    for k in (0, 1, 3) if name == "rnn" else (1, 3):
        args = make(rng, k)
        gen, interp = _both(sm._script, *args)
        _same(gen, interp)
        with ardor.no_grad():
            _same(gen, m(*args))
            _same(sm(*args), gen)
    if name != "rnn":
        _, tm = pair_model(name)
        x = make(rng, 2)[0]
        with ardor.no_grad():
            got = sm(x).numpy()
        with torch.no_grad():
            np.testing.assert_allclose(got, tm(torch.tensor(x.numpy())).numpy(), rtol=1e-4,
                                       atol=1e-5)


class _Branchy(nn.Module):
    """A loop over a ModuleList with a data-dependent if, an early return."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)])
        self.out = nn.Sequential(nn.Linear(3, 2), nn.Tanh())

    def forward(self, x, limit: float = 4.0):
        for layer in self.layers:
            if x.sum() > 0:
                x = F.relu(layer(x))
            else:
                x = layer(x) * 0.5
        if x.abs().max() > limit:
            return x
        return self.out(x)


def test_module_with_submodules_generated_equals_interpreter_and_eager():
    ardor.manual_seed(1)
    m = _Branchy()
    sm = jit.script(m)
    rng = np.random.default_rng(1)
    for scale in (0.1, -0.1, 5.0, -5.0, 50.0):
        x = ardor.tensor((rng.standard_normal((2, 3)) * scale).astype(np.float32))
        for limit in (4.0, 0.0):
            gen, interp = _both(sm._script, x, limit)
            _same(gen, interp)
            with ardor.no_grad():
                _same(gen, m(x, limit))


# ------------------------------------------------------------- which path runs
def _spy_interpreter(monkeypatch):
    calls = []
    real = _script_run.run_region

    def spy(graph, env, inputs=()):
        calls.append(graph)
        return real(graph, env, inputs)
    monkeypatch.setattr(_script_run, "run_region", spy)
    return calls


def test_generated_path_is_taken_when_nothing_needs_grad(monkeypatch):
    ardor.manual_seed(2)
    m = _Branchy()
    sm = jit.script(m)
    src = sm.python_code
    assert src.startswith("def run(") and "for " not in src  # the ModuleList loop unrolls
    assert src.count("if ") >= 4 and "else:" in src
    assert "_T['layers.0.weight']" in src
    s = jit.script(loops)
    assert "while " in s.python_code and "for i in range(" in s.python_code
    assert s.python_code == s.graph.code == s.compiled.code  # Graph.code: the same runner
    interp = _spy_interpreter(monkeypatch)
    x = ardor.tensor(np.array([[1.0, -2.0, 3.0]], np.float32))
    with ardor.no_grad():  # grad mode off
        sm(x)
        s(x[0], 5)
    for p in m.parameters():  # grad mode on, but nothing requires grad
        p.requires_grad_(False)
    sm(x)
    assert interp == []
    assert sm.compiled.calls == 2 and s.compiled.calls == 1


def test_interpreter_runs_when_gradients_are_needed(monkeypatch):
    ardor.manual_seed(3)
    m = _Branchy()
    sm = jit.script(m)
    interp = _spy_interpreter(monkeypatch)
    rng = np.random.default_rng(3)
    for scale in (1.0, -1.0):
        xv = (rng.standard_normal((2, 3)) * scale).astype(np.float32)
        x1 = ardor.tensor(xv, requires_grad=True)
        x2 = ardor.tensor(xv, requires_grad=True)
        m.zero_grad()
        sm(x1).sum().backward()
        g_script = {k: p.grad.numpy().copy() for k, p in m.named_parameters()
                    if p.grad is not None}
        m.zero_grad()
        m(x2).sum().backward()
        np.testing.assert_array_equal(x1.grad.numpy(), x2.grad.numpy())
        for k, p in m.named_parameters():
            if p.grad is not None:
                np.testing.assert_array_equal(g_script[k], p.grad.numpy())
    assert interp and sm._script._runner is None  # the runner was never even built


def test_python_calls_that_may_hold_grad_tensors_use_the_interpreter(monkeypatch):
    w = ardor.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)

    def scale_by_w(x):  # a plain Python function: a pycall the graph cannot see into
        return x * w

    def f(x):
        if x.sum() > 0:
            return scale_by_w(x).sum()
        return x.sum()
    s = jit.script(f)
    interp = _spy_interpreter(monkeypatch)
    out = s(ardor.ones(3))
    out.backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3, np.float32))
    assert interp and s._runner is None
    with ardor.no_grad():  # without grad mode the runner is right again
        _same(s(ardor.ones(3)), f(ardor.ones(3)))
    assert s.compiled.calls == 1


def test_loaded_script_uses_the_generated_runner():
    s = jit.script(loops)
    buf = io.BytesIO()
    jit.save(s, buf)
    buf.seek(0)
    loaded = jit.load(buf)
    x = ardor.tensor(np.array([1.0, -2.0, 0.5], np.float32))
    for n in (0, 4, 30):
        with ardor.no_grad():
            _same(loaded(x, n), loops(x, n))
    assert loaded.compiled.calls == 3


# ------------------------------------------------------------------ errors
def test_errors_in_the_generated_runner_name_the_operation():
    def f(x, y):
        z = x * 2
        if z.sum() > 0:
            for i in range(3):
                z = z + y
        return z
    s = jit.script(f)
    a, b = ardor.ones(3), ardor.ones(4)
    with pytest.raises(RuntimeError) as eager:
        f(a, b)
    for runner in (lambda: s.compiled(a, b),
                   lambda: _script_run.run_region(s.graph, {}, [a, b])):
        with pytest.raises(type(eager.value)) as got:
            runner()
        assert str(got.value) == str(eager.value)  # the error itself is unchanged
        notes = getattr(got.value, "__notes__", [])
        assert len(notes) == 1 and "pycall[_operator.add]" in notes[0], notes
    with pytest.raises(RuntimeError) as got:  # the traceback shows the generated line
        s.compiled(a, b)
    import traceback
    assert "(loop_z + y)" in "".join(traceback.format_exception(got.value))


def test_undefined_on_some_path_raises_name_error_in_both():
    def f(x):
        if x.sum() > 0:
            y = x
        return y * 2  # noqa: F821 - undefined when x.sum() <= 0

    s = jit.script(f)
    pos, neg = ardor.ones(2), -ardor.ones(2)
    gen, interp = _both(s, pos)
    _same(gen, interp)
    _same(gen, f(pos))
    with pytest.raises(NameError):
        f(neg)
    for run in (lambda: s.compiled(neg), lambda: _script_run.run_region(s.graph, {}, [neg])):
        with pytest.raises(NameError, match="not defined on every path"):
            run()


def test_raise_inside_generated_runner():
    def f(x, n: int):
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        total = x * 0
        for i in range(n):
            assert x.sum() != 3.5, "bad sum"
            total = total + x
        return total

    s = jit.script(f)
    x = ardor.ones(2)
    for args in ((x, -1), (x, 2), (x * 1.75, 1), (x * 1.75, 0)):
        try:
            ref = f(*args)
        except Exception as e:  # noqa: BLE001 - the oracle's exception
            for run in (lambda: s.compiled(*args),
                        lambda: _script_run.run_region(s.graph, {}, list(args))):
                with pytest.raises(type(e)) as got:
                    run()
                assert str(got.value) == str(e).splitlines()[0]
        else:
            gen, interp = _both(s, *args)
            _same(gen, interp)
            _same(gen, ref)


# ------------------------------------------------------------ hand-built graphs
def _control_graph():
    """x -> if x.sum() > 0: (exp(x), max over dim 0) else: (neg(x), min over dim 0),
    then a range loop adding x n times (op-table call nodes inside the regions)."""
    from ardor.jit._ir import Node
    Graph = jit.Graph
    g = Graph()
    x = g.placeholder("x", (3, 2), ardor.float32)
    n = g.placeholder("n")
    cond = g.call("gt", (g.call("sum", (x,), {"dim": None, "keepdim": False,
                                             "dtype": None}), 0))
    regions = []
    for op, red in (("exp", "max_dim"), ("neg", "min_dim")):
        r = Graph()
        v = r.call(op, (x,))
        mx = r.call(red, (v,), {"dim": 0, "keepdim": False})
        r.output((v, r.getitem(mx, 0)))
        regions.append(r)
    branch = Node(g, "if", "branch", args=(cond,), attrs={"then": regions[0],
                                                         "else": regions[1], "nout": 2})
    g.nodes.append(branch)
    v, red = g.getitem(branch, 0), g.getitem(branch, 1)
    body = Graph()
    i = body.placeholder("i")
    brk, acc = body.placeholder("brk_in"), body.placeholder("acc_in")
    body.output((brk, body.call("add", (acc, x))))
    loop = Node(g, "loop", "loop", args=(0, n, 1, False, v),
                attrs={"body": body, "nout": 2, "nrange": 3, "brk": 0, "ret": None,
                       "cont": None})
    g.nodes.append(loop)
    g.output((g.getitem(loop, 1), red))
    return g.verify()



@pytest.mark.parametrize("sign,n", [(1.0, 0), (1.0, 3), (-1.0, 1), (-1.0, 4)])
def test_generate_runs_control_flow_graphs_of_op_calls(sign, n):
    from ardor.jit._codegen import generate, interpret
    g = _control_graph()
    gen = generate(g)  # the script runner: Python if/for over the call nodes
    assert "if " in gen.source and "for i in range(int(n)):" in gen.source
    x = ardor.tensor(np.arange(6, dtype=np.float32).reshape(3, 2) * sign - 0.5 * sign)
    with ardor.no_grad():
        got = gen.fn(g.tensors, x, n)
        _same(got, interpret(g, x, n))
    t = torch.tensor(x.numpy())
    v = t.exp() if t.sum() > 0 else -t
    red = v.max(0).values if t.sum() > 0 else v.min(0).values
    np.testing.assert_allclose(got[0].numpy(), (v + n * t).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1].numpy(), red.numpy(), rtol=1e-6)
