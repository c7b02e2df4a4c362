"""ardor.jit.script compiles the submodules and scripted functions a scripted module calls
into its own graph (as torch.jit.script scripts submodules recursively): outputs and
gradients equal eager ardor and torch.jit.script of the same torch model for inputs on
every branch; the graph saves (each weight once, under its state_dict key) and loads in a
process that cannot import the model's module; what cannot be scripted stays a Python call
that runs eagerly and that save refuses by name."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
import ardor.nn as nn
from ardor.jit import _script_run

from _jitmodels import import_defs, nodes_of

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# one source, two libraries: the ardor classes and the torch oracle are the same code
MODELS = '''
from typing import Optional

import {lib} as torch
import {lib}.nn as nn
import {lib}.nn.functional as F


class Gate(nn.Module):
    """A custom module with an early return on a data-dependent condition."""

    def __init__(self, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.proj = nn.Linear(d, d)

    def forward(self, x):
        h = self.proj(self.norm(x))
        if h.mean() > 0:
            return torch.tanh(h) + x
        return F.relu(h) - x


class Block(nn.Module):
    """A custom module calling another custom module (and a Linear)."""

    def __init__(self, d: int):
        super().__init__()
        self.gate = Gate(d)
        self.fc = nn.Linear(d, d)

    def forward(self, x, scale: float = 1.0):
        return self.fc(self.gate(x)) * scale


class Net(nn.Module):
    """A loop over a ModuleList with a data-dependent if, a submodule called in a while
    loop, and a Sequential head."""

    def __init__(self, d: int = 6, n: int = 3):
        super().__init__()
        self.emb = nn.Linear(4, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Dropout(0.5), nn.Linear(d, 2))

    def forward(self, x, steps: int):
        h = self.emb(x)
        for blk in self.blocks:
            if h.sum() > 0:
                h = blk(h, 0.5)
            else:
                h = blk(h)
        i = 0
        while i < steps:
            h = self.blocks[0](h)
            i += 1
        return self.head(h)


class Convy(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                                      nn.ReLU(), nn.MaxPool2d(2))
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4 * 3 * 3, 4)

    def forward(self, x, idx):
        y = self.fc(self.features(x).flatten(1))
        e = self.emb(idx)
        if x.mean() > 0:
            return y + e
        return y - e
'''


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    """(ardor module, torch module, their directory): the model classes above, imported
    from files that are removed from sys.modules again (the saved graphs must not need
    them)."""
    d = tmp_path_factory.mktemp("inline_defs")
    am, tm = import_defs(d, MODELS, "jit_inline_defs")
    return am, tm, d


def _pair(defs, cls, *args, train=False, seed=0):
    am_mod, tm_mod, _ = defs
    torch.manual_seed(seed)
    tm = getattr(tm_mod, cls)(*args)
    with torch.no_grad():  # non-trivial BatchNorm statistics where there are some
        for m in tm.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    am = getattr(am_mod, cls)(*args)
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return am.train(train), tm.train(train)


def _np(t):
    return t.detach().numpy()


def _module_pycalls(graph):
    """Pycall nodes (in every region) that call a Module or a ScriptFunction."""
    return [n for n in nodes_of(graph, "pycall")
            if isinstance(n.attrs["fn"], (nn.Module, jit.ScriptFunction))]


def _branches_taken(monkeypatch, sf, calls):
    """For each ``if`` node of the script's graph: the set of its regions ('then'/'else')
    that ran over ``calls`` (recorded by spying on the region interpreter)."""
    ran = set()
    real = _script_run.run_region

    def spy(graph, env, inputs=()):
        ran.add(id(graph))
        return real(graph, env, inputs)
    monkeypatch.setattr(_script_run, "run_region", spy)
    for c in calls:
        c()
    monkeypatch.setattr(_script_run, "run_region", real)
    out = {}
    for n in nodes_of(sf.graph, "if"):  # by source line of the model file
        out.setdefault(n.attrs["line"], set()).update(
            k for k in ("then", "else") if id(n.attrs[k]) in ran)
    return out


def _line(text):
    return next(i + 1 for i, ln in enumerate(MODELS.format(lib="ardor").splitlines())
                if ln.strip() == text)


def _net_inputs():
    rng = np.random.default_rng(7)
    xs = [(rng.standard_normal((3, 4)) * s).astype(np.float32) for s in (0.3, -0.3, 2, -2, 5,
                                                                         -5, 1, -1)]
    return [(x, steps) for x, steps in zip(xs, (0, 1, 2, 0, 3, 1, 0, 2))]


def test_net_outputs_and_gradients_match_eager_and_torch_script_on_every_branch(defs,
                                                                              monkeypatch):
    am, tm = _pair(defs, "Net")
    sm = jit.script(am)
    ts = torch.jit.script(tm)
    assert not _module_pycalls(sm.graph)  # every submodule call is compiled in
    # parameters are get_attr nodes named as the state_dict keys
    assert set(sm.graph.tensors) == set(am.state_dict())
    for x, steps in _net_inputs():
        xa = ardor.tensor(x, requires_grad=True)
        xe = ardor.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        got, ref, tref = sm(xa, steps), am(xe, steps), ts(xt, steps)
        np.testing.assert_allclose(_np(got), _np(ref), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(_np(got), tref.detach().numpy(), rtol=1e-4, atol=1e-5)
        am.zero_grad()
        tm.zero_grad()
        (got * got).sum().backward()
        grads = {k: _np(p.grad) for k, p in am.named_parameters()}
        am.zero_grad()
        (ref * ref).sum().backward()
        (tref * tref).sum().backward()
        np.testing.assert_allclose(_np(xa.grad), _np(xe.grad), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(_np(xa.grad), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        tgrads = dict(tm.named_parameters())
        for k, p in am.named_parameters():
            if p.grad is None:  # not reached on this input (eager and torch agree below)
                assert grads[k] is None or not np.any(grads[k])
                continue
            np.testing.assert_allclose(grads[k], _np(p.grad), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(grads[k], tgrads[k].grad.numpy(), rtol=1e-4,
                                       atol=1e-5)
    # the inputs above take both sides of the ModuleList loop's if and of Gate's
    taken = _branches_taken(monkeypatch, sm._script,
                            [lambda x=x, s=s: sm(ardor.tensor(x), s) for x, s in _net_inputs()])
    for cond in ("if h.sum() > 0:", "if h.mean() > 0:"):
        assert taken[_line(cond)] == {"then", "else"}, (cond, taken)


def test_conv_batchnorm_embedding_model_matches_torch_script(defs):
    am, tm = _pair(defs, "Convy")
    sm = jit.script(am)
    ts = torch.jit.script(tm)
    assert not _module_pycalls(sm.graph)
    rng = np.random.default_rng(1)
    seen = set()
    for s in (1.0, -1.0, 3.0, -3.0):
        x = (rng.standard_normal((2, 3, 6, 6)) * s).astype(np.float32)
        idx = rng.integers(0, 10, (2,))
        got = sm(ardor.tensor(x), ardor.tensor(idx))
        ref = ts(torch.tensor(x), torch.tensor(idx))
        np.testing.assert_allclose(_np(got), ref.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(_np(got), _np(am(ardor.tensor(x), ardor.tensor(idx))),
                                   rtol=1e-6, atol=1e-7)
        seen.add(bool(x.mean() > 0))
    assert seen == {True, False}
    # an unbatched image passes the conv but fails BatchNorm2d's compiled input check
    bad = ardor.tensor(rng.standard_normal((3, 6, 6)).astype(np.float32))
    idx = ardor.tensor(rng.integers(0, 10, (2,)))
    with pytest.raises(ValueError) as eager:
        am(bad, idx)
    with pytest.raises(ValueError) as got:
        sm(bad, idx)
    assert str(got.value) == str(eager.value)


def _run_in_fresh_process(code, tmp_path):
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr


def test_saved_module_loads_without_its_classes_and_takes_every_branch(defs, tmp_path):
    am, _ = _pair(defs, "Net")
    sm = jit.script(am.eval())
    path = tmp_path / "net.ardor"
    jit.save(sm, str(path))
    with zipfile.ZipFile(path) as z:  # each weight stored once
        assert len([n for n in z.namelist() if n.startswith("tensors/")]) == \
            len(am.state_dict())
    cases = _net_inputs()
    with ardor.no_grad():
        refs = np.stack([_np(am(ardor.tensor(x), s)) for x, s in cases])
    np.save(tmp_path / "xs.npy", np.stack([x for x, _ in cases]))
    loaded = jit.load(str(path))
    sd = loaded.state_dict()
    assert set(sd) == set(am.state_dict())
    for k, v in am.state_dict().items():
        np.testing.assert_array_equal(_np(sd[k]), _np(v))
    with ardor.no_grad():
        got = np.stack([_np(loaded(ardor.tensor(x), s)) for x, s in cases])
    np.testing.assert_allclose(got, refs, rtol=1e-6, atol=1e-7)
    _run_in_fresh_process(f'''
        import sys
        sys.modules["jit_inline_defs_ardor_xyz"] = None   # importing it would fail
        import numpy as np, ardor, ardor.jit
        m = ardor.jit.load({str(path)!r})
        xs = np.load({str(tmp_path / "xs.npy")!r})
        steps = {[s for _, s in cases]!r}
        with ardor.no_grad():
            out = [m(ardor.tensor(x), s).numpy() for x, s in zip(xs, steps)]
        np.save({str(tmp_path / "got.npy")!r}, np.stack(out))
    ''', tmp_path)
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), refs, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ common layers
def _layers():
    torch.manual_seed(0)
    return {
        "linear": (torch.nn.Linear(5, 3), (4, 5)),
        "conv2d": (torch.nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
        "relu": (torch.nn.ReLU(), (4, 5)),
        "dropout_eval": (torch.nn.Dropout(0.4).eval(), (4, 5)),
        "batchnorm_eval": (torch.nn.BatchNorm2d(2).eval(), (3, 2, 4, 4)),
        "sequential": (torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(),
                                           torch.nn.Linear(4, 2)), (3, 5)),
        "layernorm": (torch.nn.LayerNorm(5), (2, 3, 5)),
        "embedding": (torch.nn.Embedding(7, 3, padding_idx=0), None),
        "flatten_pool": (torch.nn.Sequential(torch.nn.MaxPool2d(2), torch.nn.Flatten()),
                         (2, 3, 4, 4)),
    }


def _ardor_copy(tm):
    """The same layer in ardor (built from the torch layer's repr, weights copied)."""
    name = type(tm).__name__
    if name == "Sequential":
        am = nn.Sequential(*[_ardor_copy(c) for c in tm])
    else:
        am = eval("nn." + repr(tm).replace("\n", ""), {"nn": nn})  # noqa: S307
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return am.train(tm.training)


@pytest.mark.parametrize("kind", list(_layers()))
def test_common_layers_script_inline_and_save(kind, tmp_path):
    tm, shape = _layers()[kind]
    if kind == "batchnorm_eval":
        with torch.no_grad():
            tm.running_mean.uniform_(-0.5, 0.5)
            tm.running_var.uniform_(0.5, 2.0)
    am = _ardor_copy(tm)

    class Wrap(nn.Module):  # the layer as a submodule, its call compiled into the graph
        def __init__(self):
            super().__init__()
            self.layer = am

        def forward(self, x):
            return self.layer(x)
    sm = jit.script(Wrap())
    assert not _module_pycalls(sm.graph)
    assert set(sm.graph.tensors) == {"layer." + k for k in am.state_dict()
                                     if not k.endswith("num_batches_tracked")}
    rng = np.random.default_rng(2)
    x = rng.integers(0, 7, (3, 4)) if shape is None else \
        rng.standard_normal(shape).astype(np.float32)
    got = sm(ardor.tensor(x))
    np.testing.assert_allclose(_np(got), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(_np(got), _np(am(ardor.tensor(x))), rtol=1e-6, atol=1e-7)
    buf = io.BytesIO()
    jit.save(sm, buf)
    buf.seek(0)
    np.testing.assert_allclose(_np(jit.load(buf)(ardor.tensor(x))), _np(got), rtol=1e-6,
                               atol=1e-7)


def test_module_list_loop_and_train_eval_switch_follow_eager():
    """Dropout and BatchNorm in training mode: the scripted module compiles per train/eval
    state (training is read as at run time), same random draws and running statistics as
    eager."""
    torch.manual_seed(0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 4)])
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(x) if i != 1 else layer(x) * 1.0
            return self.bn(x)
    ardor.manual_seed(0)
    a, b = M(), M()
    b.load_state_dict(a.state_dict())
    sm = jit.script(b)
    x = ardor.tensor(np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32))
    for mode in ("train", "eval", "train"):
        getattr(a, mode)()
        getattr(sm, mode)()
        ardor.manual_seed(3)
        ref = a(x)
        ardor.manual_seed(3)
        got = sm(x)
        np.testing.assert_allclose(_np(got), _np(ref), rtol=1e-6, atol=1e-7)
        for k, v in a.state_dict().items():  # running statistics updated alike
            np.testing.assert_allclose(_np(b.state_dict()[k]), _np(v), rtol=1e-6, atol=1e-7)
    assert len(sm._scripts) == 2


# ------------------------------------------------------------- scripted functions
@jit.script
def _scaled(x, k: float = 2.0):
    if x.sum() > 0:
        return x * k
    return x - k


def _calls_scripted(x):
    y = _scaled(x) + _scaled(x, k=0.5)
    return _scaled(y, 3.0)


def test_scripted_functions_inline_and_save(tmp_path):
    s = jit.script(_calls_scripted)
    assert not _module_pycalls(s.graph)
    buf = io.BytesIO()
    jit.save(s, buf)
    for v in ([1.0, 2.0], [-1.0, -2.0], [3.0, -4.0]):
        x = ardor.tensor(np.array(v, np.float32))
        np.testing.assert_allclose(_np(s(x)), _np(_calls_scripted(x)), rtol=1e-6)
        buf.seek(0)
        np.testing.assert_allclose(_np(jit.load(buf)(x)), _np(_calls_scripted(x)), rtol=1e-6)


def test_loaded_script_called_from_scripted_code_is_inlined(tmp_path):
    buf = io.BytesIO()
    jit.save(_scaled, buf)
    buf.seek(0)
    loaded = jit.load(buf)

    def outer(x):
        return loaded(x, 0.25) * 2

    s = jit.script(outer)
    assert not _module_pycalls(s.graph)
    buf2 = io.BytesIO()
    jit.save(s, buf2)
    buf2.seek(0)
    again = jit.load(buf2)
    for v in ([1.0, 2.0], [-1.0, -2.0]):
        x = ardor.tensor(np.array(v, np.float32))
        ref = _scaled(x, 0.25) * 2
        np.testing.assert_allclose(_np(s(x)), _np(ref), rtol=1e-6)
        np.testing.assert_allclose(_np(again(x)), _np(ref), rtol=1e-6)


def test_scripted_argument_types_are_still_checked():
    def bad(x):
        return _scaled(x, "no")
    s = jit.script(bad)  # not compiled in: the call raises as a call of _scaled would
    with pytest.raises(RuntimeError, match="Expected a value of type 'float'"):
        s(ardor.ones(2))


# ------------------------------------------------------------------ fallbacks
class _Unscriptable(nn.Module):
    def forward(self, x):
        return sum([x * i for i in range(3)])


class _HasUnscriptable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.odd = _Unscriptable()

    def forward(self, x):
        return self.odd(self.fc(x))


def test_unscriptable_submodule_runs_eagerly_and_save_names_it(tmp_path):
    m = _HasUnscriptable()
    sm = jit.script(m)
    calls = _module_pycalls(sm.graph)
    assert [n.attrs["src"] for n in calls] == ["self.odd"]
    assert "ListComp" in calls[0].attrs["why"]
    x = ardor.tensor(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32),
                     requires_grad=True)
    got, ref = sm(x), m(x)
    np.testing.assert_allclose(_np(got), _np(ref), rtol=1e-6)
    got.sum().backward()
    g1 = _np(x.grad)
    x.grad = None
    ref.sum().backward()
    np.testing.assert_allclose(g1, _np(x.grad), rtol=1e-6)
    with pytest.raises(ValueError, match=r"self\.odd \(_Unscriptable\).*ListComp"):
        jit.save(sm, str(tmp_path / "m.ardor"))


def test_hooked_and_recursive_calls_stay_python_calls():
    seen = []
    lin = nn.Linear(2, 2)
    lin.register_forward_hook(lambda mod, inp, out: seen.append(1))

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            return self.lin(x)
    sm = jit.script(M())
    assert [n.attrs["fn"] for n in _module_pycalls(sm.graph)] == [lin]
    x = ardor.ones(1, 2)
    np.testing.assert_allclose(_np(sm(x)), _np(lin(x)))
    assert len(seen) == 2  # the hook ran for the scripted call too

    class Rec(nn.Module):
        def forward(self, x, n: int):
            if n > 0:
                return self.forward(x * 2, n - 1)
            return x
    r = Rec()
    sr = jit.script(r)
    for n in (0, 3):
        np.testing.assert_allclose(_np(sr(x, n)), _np(r(x, n)))


def test_raise_assert_and_fstrings_behave_as_python():
    def checked(x, n: int):
        assert n >= 0, f"n must be >= 0, got {n}"
        if x.dim() != 1:
            raise ValueError(f"expected a 1-d input, got {x.dim()}-d ({x.shape[0]!r} rows)")
        return x * n

    s = jit.script(checked)
    for args in ((ardor.ones(3), 2), (ardor.ones(3), -1), (ardor.ones(2, 3), 1)):
        try:
            ref = checked(*args)
        except Exception as e:  # noqa: BLE001 - the oracle's exception
            with pytest.raises(type(e)) as got:
                s(*args)
            # (pytest's assert rewriting appends an explanation line to the eager message)
            assert str(got.value) == str(e).splitlines()[0]
        else:
            np.testing.assert_array_equal(_np(s(*args)), _np(ref))
    buf = io.BytesIO()
    jit.save(s, buf)  # raise, f-strings and exception classes are saved
    buf.seek(0)
    with pytest.raises(ValueError, match="expected a 1-d input, got 2-d"):
        jit.load(buf)(ardor.ones(2, 3), 1)
