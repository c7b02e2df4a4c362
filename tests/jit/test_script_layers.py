"""nn.LSTM, nn.GRU, nn.RNN and nn.MultiheadAttention inside a scripted module: their
forwards compile into the module's graph (local imports of ardor modules, dict(...) and
``**kwargs``, op-table ``dispatch`` as graph calls, loops over layers unrolled), so
results and gradients equal eager ardor and torch.jit.script of the same torch model,
and the graph saves and loads in a process that cannot import the model's module."""
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

# one source, two libraries: the ardor classes and the torch oracle are the same code
MODELS = '''
from typing import Tuple

import {lib} as torch
import {lib}.nn as nn


class Rnn(nn.Module):
    def __init__(self, kind: str, layers: int, bidir: bool, bf: bool):
        super().__init__()
        self.rnn = getattr(nn, kind)(4, 5, num_layers=layers, bidirectional=bidir,
                                     batch_first=bf)
        self.head = nn.Linear(10 if bidir else 5, 3)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out)


class LstmState(nn.Module):
    def __init__(self, layers: int, bidir: bool, bf: bool):
        super().__init__()
        self.rnn = nn.LSTM(4, 5, num_layers=layers, bidirectional=bidir, batch_first=bf)

    def forward(self, x, h0, c0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, (h, c) = self.rnn(x, (h0, c0))
        return out, h, c


class GruState(nn.Module):
    def __init__(self, layers: int, bidir: bool, bf: bool):
        super().__init__()
        self.rnn = nn.GRU(4, 5, num_layers=layers, bidirectional=bidir, batch_first=bf)

    def forward(self, x, h0) -> Tuple[torch.Tensor, torch.Tensor]:
        out, h = self.rnn(x, h0)
        return out, h


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2)
        self.fc = nn.Linear(8, 8)

    def forward(self, x, kpm):
        y, w = self.mha(x, x, x, key_padding_mask=kpm)
        return self.fc(y), w


class AttnNoWeights(Attn):
    def forward(self, x, kpm):
        q = self.fc(x)
        y, _ = self.mha(q, x, x, key_padding_mask=kpm, need_weights=False)
        return y
'''


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    """(ardor module, torch module, directory) of the models above, removed from
    sys.modules again (saved graphs must not need them)."""
    d = tmp_path_factory.mktemp("layer_defs")
    am, tm = import_defs(d, MODELS, "jit_layer_defs")
    return am, tm, d


def _pair(defs, cls, *args):
    torch.manual_seed(0)
    tm = getattr(defs[1], cls)(*args).double()
    am = getattr(defs[0], cls)(*args).double()
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return am, tm


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check(am, tm, inputs, grad_inputs=(0,)):
    """Scripted ardor == eager ardor == torch.jit.script (outputs, then gradients of the
    inputs in ``grad_inputs`` and of every parameter), and the runner == the graph."""
    sm = jit.script(am)
    ts = torch.jit.script(tm)
    assert not [n for n in nodes_of(sm.graph, "pycall") if "why" in n.attrs], \
        [n.attrs["why"] for n in nodes_of(sm.graph, "pycall") if "why" in n.attrs]
    runs = []
    for lib, f in (("a", sm), ("a", am), ("t", ts)):
        xs = [(ardor.tensor(x, requires_grad=i in grad_inputs) if lib == "a" else
               torch.tensor(x, requires_grad=i in grad_inputs)) if isinstance(x, np.ndarray)
              else x for i, x in enumerate(inputs)]
        (am if lib == "a" else tm).zero_grad()
        outs = [o for o in _flat(f(*xs)) if o is not None]
        sum((o.double() ** 2).sum() for o in outs).backward()
        params = am if lib == "a" else tm
        runs.append(([o.detach().numpy() for o in outs],
                     [xs[i].grad.numpy() for i in grad_inputs],
                     {k: p.grad.numpy().copy() for k, p in params.named_parameters()}))
    for other in runs[1:]:
        for a, b in zip(runs[0][0] + runs[0][1], other[0] + other[1]):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
        assert runs[0][2].keys() == other[2].keys()
        for k in runs[0][2]:
            np.testing.assert_allclose(runs[0][2][k], other[2][k], rtol=1e-7, atol=1e-9)
    with ardor.no_grad():  # the generated runner
        outs = _flat(sm(*[ardor.tensor(x) if isinstance(x, np.ndarray) else x
                          for x in inputs]))
    for o, r in zip([o for o in outs if o is not None], runs[0][0]):
        np.testing.assert_allclose(o.numpy(), r, rtol=1e-7, atol=1e-9)
    return sm


RNG = np.random.default_rng(3)


def _x(bf):
    return RNG.standard_normal((2, 6, 4) if bf else (6, 2, 4))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layers,bidir,bf", [(1, False, False), (2, True, False),
                                             (2, False, True), (1, True, True)])
def test_recurrent_layers_without_state(defs, kind, layers, bidir, bf):
    am, tm = _pair(defs, "Rnn", kind, layers, bidir, bf)
    _check(am, tm, [_x(bf)])


@pytest.mark.parametrize("layers,bidir,bf", [(1, False, False), (2, True, True)])
def test_recurrent_layers_with_initial_state(defs, layers, bidir, bf):
    nd = 2 if bidir else 1
    h0, c0 = (RNG.standard_normal((layers * nd, 2, 5)) for _ in range(2))
    am, tm = _pair(defs, "LstmState", layers, bidir, bf)
    _check(am, tm, [_x(bf), h0, c0], grad_inputs=(0, 1, 2))
    am, tm = _pair(defs, "GruState", layers, bidir, bf)
    _check(am, tm, [_x(bf), h0], grad_inputs=(0, 1))


def _kpm():
    return np.array([[False, False, False, True, True], [False] * 5])


@pytest.mark.parametrize("cls", ["Attn", "AttnNoWeights"])
def test_multihead_attention(defs, cls):
    am, tm = _pair(defs, cls)
    x = RNG.standard_normal((5, 2, 8))
    _check(am, tm, [x, _kpm()])


def test_saved_lstm_and_attention_load_without_their_classes(defs, tmp_path):
    cases = {"lstm": (_pair(defs, "Rnn", "LSTM", 2, True, False)[0], [_x(False)]),
             "attn": (_pair(defs, "Attn")[0], [RNG.standard_normal((5, 2, 8)), _kpm()])}
    for name, (am, inputs) in cases.items():
        jit.save(jit.script(am.eval()), str(tmp_path / f"{name}.ardor"))
        with ardor.no_grad():
            ref = _flat(am(*[ardor.tensor(x) for x in inputs]))
        np.savez(tmp_path / f"{name}_in.npz", *inputs)
        np.savez(tmp_path / f"{name}_ref.npz", *[r.numpy() for r in ref])
    code = f'''
        import sys
        sys.modules["jit_layer_defs_ardor_xyz"] = None   # importing it would fail
        import numpy as np, ardor, ardor.jit
        for name in ("lstm", "attn"):
            m = ardor.jit.load({str(tmp_path)!r} + f"/{{name}}.ardor")
            ins = np.load({str(tmp_path)!r} + f"/{{name}}_in.npz")
            with ardor.no_grad():
                out = m(*[ardor.tensor(ins[k]) for k in ins.files])
            out = out if isinstance(out, tuple) else (out,)
            np.savez({str(tmp_path)!r} + f"/{{name}}_got.npz", *[o.numpy() for o in out])
    '''
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    for name in cases:
        got, ref = np.load(tmp_path / f"{name}_got.npz"), np.load(tmp_path / f"{name}_ref.npz")
        assert got.files == ref.files
        for k in ref.files:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-12)


def test_function_local_import_of_a_non_ardor_module_is_a_script_error():
    def f(x):
        import numpy as np  # noqa: F401
        return x

    with pytest.raises(jit.ScriptError, match="import numpy as np.*only ardor"):
        jit.script(f)


def test_compile_time_dict_cannot_be_changed():
    def f(x):
        d = dict(a=x)
        d["b"] = x
        return d["a"]

    with pytest.raises(jit.ScriptError, match="changing a list or dict"):
        jit.script(f)

    def g(x):
        kw = dict(dim=0, keepdim=True)
        return ardor.sum(x, **kw) + {"k": x}["k"]
    s = jit.script(g)
    x = ardor.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(s(x).numpy(), g(x).numpy())


def test_private_helper_whitelist_is_closed():
    from ardor.jit._serialize import SerializationError, decode_callable, encode_callable
    from ardor.nn.modules import rnn
    assert decode_callable(encode_callable(rnn._zeros)) is rnn._zeros
    assert decode_callable(encode_callable(ardor.is_grad_enabled)) is ardor.is_grad_enabled
    for name in ("private:ardor.nn.modules.rnn._empty", "private:os.system",
                 "private:ardor.nn.modules.rnn.np", "method:__class__", "method:__init__"):
        with pytest.raises(SerializationError):
            decode_callable(name)


def test_attention_without_weights_saves(defs, tmp_path):
    am, _ = _pair(defs, "AttnNoWeights")
    sm = jit.script(am.eval())
    jit.save(sm, str(tmp_path / "a.ardor"))
    x, kpm = ardor.tensor(RNG.standard_normal((5, 2, 8))), ardor.tensor(_kpm())
    with ardor.no_grad():
        np.testing.assert_allclose(jit.load(str(tmp_path / "a.ardor"))(x, kpm).numpy(),
                                   am(x, kpm).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("masked", [False, True])
def test_transformer_encoder_layer_scripts_saves_and_matches_torch(tmp_path, masked):
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    al = ardor.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True).eval()
    al.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = RNG.standard_normal((2, 5, 16)).astype(np.float32)
    kpm = _kpm() if masked else None
    sm = jit.script(al)
    jit.save(sm, str(tmp_path / "tel.ardor"))
    loaded = jit.load(str(tmp_path / "tel.ardor"))
    with torch.no_grad():
        ref = torch.jit.script(tl)(torch.tensor(x), src_key_padding_mask=None if kpm is None
                                   else torch.tensor(kpm)).numpy()
    with ardor.no_grad():
        for m in (al, sm, loaded):
            got = m(ardor.tensor(x), src_key_padding_mask=None if kpm is None
                    else ardor.tensor(kpm)).numpy()
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
