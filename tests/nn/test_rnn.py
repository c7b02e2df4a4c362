"""RNN / LSTM / GRU and their cells vs torch 2.13: parameter names and shapes, repr, outputs,
final states and gradients (input, initial states, every parameter) across num_layers,
bidirectional, batch_first, bias, proj_size, unbatched and PackedSequence inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ardor

RNG = np.random.default_rng(4)


def _pair(cls, *args, **kw):
    tm = getattr(torch.nn, cls)(*args, dtype=torch.float64, **kw)
    am = getattr(ardor.nn, cls)(*args, dtype=ardor.float64, **kw)
    assert [(n, tuple(p.shape)) for n, p in am.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert repr(am) == repr(tm)
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return am, tm


def _close(a, t, tol=1e-9):
    np.testing.assert_allclose(a.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def _run(cls, T=5, B=3, packed=False, hx=True, unbatched=False, **kw):
    F_, H = 4, 3
    am, tm = _pair(cls, F_, H, **kw)
    bf = kw.get("batch_first", False)
    shape = (T, F_) if unbatched else ((B, T, F_) if bf else (T, B, F_))
    x = RNG.standard_normal(shape)
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    P = kw.get("proj_size", 0) or H
    lead = (L * D,) if unbatched else (L * D, B)
    h0, c0 = RNG.standard_normal(lead + (P,)), RNG.standard_normal(lead + (H,))
    ha, ht = ardor.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    ca, ct = ardor.tensor(c0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    is_lstm = cls == "LSTM"
    hxa = ((ha, ca) if is_lstm else ha) if hx else None
    hxt = ((ht, ct) if is_lstm else ht) if hx else None
    if packed:
        lengths = [T] + list(RNG.integers(1, T + 1, B - 1))
        ina = ardor.nn.utils.rnn.pack_padded_sequence(xa, lengths, batch_first=bf,
                                                      enforce_sorted=False)
        intt = torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, batch_first=bf,
                                                       enforce_sorted=False)
    else:
        ina, intt = xa, xt
    ya, sa = am(ina, hxa)
    yt, st = tm(intt, hxt)
    if packed:
        assert isinstance(ya, ardor.nn.utils.rnn.PackedSequence)
        ya, yt = ya.data, yt.data
    outs_a = [ya] + (list(sa) if is_lstm else [sa])
    outs_t = [yt] + (list(st) if is_lstm else [st])
    la, lt = 0, 0
    for oa, ot in zip(outs_a, outs_t):
        _close(oa, ot)
        w = RNG.standard_normal(tuple(ot.shape))
        la = la + (oa * ardor.tensor(w)).sum()
        lt = lt + (ot * torch.tensor(w)).sum()
    la.backward()
    lt.backward()
    _close(xa.grad, xt.grad)
    if hx:
        _close(ha.grad, ht.grad)
        if is_lstm:
            _close(ca.grad, ct.grad)
    for (n, pa), pt in zip(am.named_parameters(), tm.parameters()):
        _close(pa.grad, pt.grad)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [
    dict(),
    dict(num_layers=2, bidirectional=True, batch_first=True),
    dict(bias=False, hx=False),
    dict(num_layers=2, unbatched=True),
    dict(num_layers=2, bidirectional=True, packed=True),
    dict(batch_first=True, packed=True, hx=False),
])
def test_recurrent_layers(cls, kw):
    _run(cls, **kw)


def test_rnn_relu_and_lstm_proj():
    _run("RNN", nonlinearity="relu", num_layers=2)
    _run("LSTM", proj_size=2, num_layers=2, bidirectional=True)
    _run("LSTM", proj_size=2, packed=True, batch_first=True)


def test_dropout_between_layers_train_and_eval():
    am = ardor.nn.LSTM(4, 3, num_layers=3, dropout=0.5)
    x = ardor.randn(6, 2, 4)
    am.eval()
    y1, _ = am(x)
    y2, _ = am(x)
    np.testing.assert_array_equal(y1.detach().numpy(), y2.detach().numpy())
    am.train()
    outs = {am(x)[0].detach().numpy().tobytes() for _ in range(3)}
    assert len(outs) > 1          # dropout draws differ between calls in training


def test_default_init_and_float32_values():
    m = ardor.nn.GRU(5, 8, num_layers=2)
    bound = 1 / math.sqrt(8)
    for p in m.parameters():
        assert p.dtype == ardor.float32
        assert np.abs(p.detach().numpy()).max() <= bound + 1e-7
    tm = torch.nn.LSTM(5, 8, batch_first=True)
    am = ardor.nn.LSTM(5, 8, batch_first=True)
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = RNG.standard_normal((3, 7, 5)).astype(np.float32)
    ya, (ha, ca) = am(ardor.tensor(x))
    yt, (ht, ct) = tm(torch.tensor(x))
    assert ya.dtype == ardor.float32
    for a, t in ((ya, yt), (ha, ht), (ca, ct)):
        _close(a, t, 1e-5)


@pytest.mark.parametrize("cls,kw", [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu",
                                                                        bias=False)),
                                    ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", dict(bias=False))])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cells(cls, kw, unbatched):
    am, tm = _pair(cls, 4, 3, **kw)
    x = RNG.standard_normal((4,) if unbatched else (2, 4))
    h = RNG.standard_normal((3,) if unbatched else (2, 3))
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ha, ht = ardor.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    lstm = cls == "LSTMCell"
    ya = am(xa, (ha, ha * 2) if lstm else ha)
    yt = tm(xt, (ht, ht * 2) if lstm else ht)
    if lstm:
        ya, yt = ya[0] * ya[1], yt[0] * yt[1]
    _close(ya, yt)
    ya.sum().backward()
    yt.sum().backward()
    for a, t in [(xa.grad, xt.grad), (ha.grad, ht.grad)] + \
            [(p.grad, q.grad) for p, q in zip(am.parameters(), tm.parameters())]:
        _close(a, t)
    _close(am(xa) if not lstm else am(xa)[1], tm(xt) if not lstm else tm(xt)[1])


@pytest.mark.parametrize("call", [
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 2, 2)),
    lambda L: L.nn.LSTM(3, 4)(L.randn(5, 2, 3), (L.randn(1, 3, 4), L.randn(1, 3, 4))),
    lambda L: L.nn.GRU(3, 4)(L.randn(5, 2, 3), L.randn(2, 2, 4)),
    lambda L: L.nn.RNN(3, 4)(L.randn(5, 2, 3), L.randn(2, 4)),
    lambda L: L.nn.RNN(3, 4)(L.randn(5, 2, 3, 1)),
    lambda L: L.nn.RNN(3, 4, nonlinearity="sigmoid"),
    lambda L: L.nn.GRU(3, 4, proj_size=2),
    lambda L: L.nn.LSTM(3, 4, proj_size=4),
    lambda L: L.nn.LSTM(3, 4, dropout=1.5),
    lambda L: L.nn.GRUCell(3, 4)(L.randn(2, 5)),
    lambda L: L.nn.LSTMCell(3, 4)(L.randn(2, 3), (L.randn(3, 4), L.randn(3, 4))),
    lambda L: L.nn.RNNCell(3, 4)(L.randn(2, 3, 1)),
])
def test_rnn_errors_match_torch(call):
    with pytest.raises(Exception) as et:
        call(torch)
    with pytest.raises(type(et.value)) as ea:
        call(ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)
