"""nn.utils: clip_grad_norm_/clip_grad_value_, parameter<->vector, rnn packing vs torch."""
import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
from ardor.nn.utils import rnn as arnn
from torch.nn.utils import rnn as trnn

rng = np.random.default_rng(5)


def _grads_pair():
    shapes = [(3, 4), (5,), (2, 2, 2)]
    gs = [rng.standard_normal(s).astype(np.float32) * 3 for s in shapes]
    ap = [nn.Parameter(ardor.zeros(*s)) for s in shapes]
    tp = [torch.nn.Parameter(torch.zeros(*s)) for s in shapes]
    for p, q, g in zip(ap, tp, gs):
        p.grad = ardor.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    return ap, tp


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm(norm_type, max_norm):
    ap, tp = _grads_pair()
    na = nn.utils.clip_grad_norm_(ap, max_norm, norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    np.testing.assert_allclose(na.item(), nt.item(), rtol=1e-5)
    for p, q in zip(ap, tp):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_edges():
    p = nn.Parameter(ardor.zeros(2))
    assert nn.utils.clip_grad_norm_([p], 1.0).item() == 0.0
    p.grad = ardor.tensor([float("nan"), 1.0])
    with pytest.raises(RuntimeError):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    nn.utils.clip_grad_norm_(p, 1.0)  # no error by default


def test_clip_grad_value():
    ap, tp = _grads_pair()
    nn.utils.clip_grad_value_(ap, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for p, q in zip(ap, tp):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy())


def test_parameters_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    v = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(v.shape) == (11,)
    np.testing.assert_array_equal(v.detach().numpy()[:6], m[0].weight.detach().numpy().ravel())
    nn.utils.vector_to_parameters(ardor.arange(11, dtype=ardor.float32), m.parameters())
    np.testing.assert_array_equal(m[1].bias.detach().numpy(), [10.0])
    w = m[0].weight
    assert isinstance(w, nn.Parameter)
    with pytest.raises(TypeError):
        nn.utils.vector_to_parameters([1.0], m.parameters())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [5, 3, 2]), (False, [2, 5, 3])])
def test_pack_pad_round_trip(batch_first, enforce_sorted, lengths):
    T, B = 5, 3
    x = rng.standard_normal((B, T, 2) if batch_first else (T, B, 2)).astype(np.float32)
    ax, tx = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pa = arnn.pack_padded_sequence(ax, lengths, batch_first, enforce_sorted)
    pt = trnn.pack_padded_sequence(tx, torch.tensor(lengths), batch_first, enforce_sorted)
    np.testing.assert_array_equal(pa.data.detach().numpy(), pt.data.detach().numpy())
    np.testing.assert_array_equal(pa.batch_sizes.numpy(), pt.batch_sizes.numpy())
    for f in ("sorted_indices", "unsorted_indices"):
        ta, tt = getattr(pa, f), getattr(pt, f)
        assert (ta is None) == (tt is None)
        if tt is not None:
            np.testing.assert_array_equal(ta.numpy(), tt.numpy())
    oa, la = arnn.pad_packed_sequence(pa, batch_first, padding_value=-1.0, total_length=6)
    ot, lt = trnn.pad_packed_sequence(pt, batch_first, padding_value=-1.0, total_length=6)
    np.testing.assert_array_equal(oa.detach().numpy(), ot.detach().numpy())
    np.testing.assert_array_equal(la.numpy(), lt.numpy())
    g = rng.standard_normal(tuple(ot.shape)).astype(np.float32)
    (oa * ardor.tensor(g)).sum().backward(), (ot * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ax.grad.numpy(), tx.grad.numpy())


def test_pack_errors():
    x = ardor.zeros(4, 2, 1)
    with pytest.raises(RuntimeError):
        arnn.pack_padded_sequence(x, [2, 3])
    with pytest.raises(RuntimeError):
        arnn.pack_padded_sequence(x, [3, 0], enforce_sorted=False)
    p = arnn.pack_padded_sequence(x, [3, 2])
    with pytest.raises(ValueError):
        arnn.pad_packed_sequence(p, total_length=2)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_and_pack_sequence(batch_first, side):
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (4, 1, 3)]
    A = [ardor.tensor(s, requires_grad=True) for s in seqs]
    T = [torch.tensor(s, requires_grad=True) for s in seqs]
    ya = arnn.pad_sequence(A, batch_first, 0.5, side)
    yt = trnn.pad_sequence(T, batch_first, 0.5, side)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    ya.sum().backward(), yt.sum().backward()
    for a, t in zip(A, T):
        np.testing.assert_array_equal(a.grad.numpy(), t.grad.numpy())
    pa = arnn.pack_sequence([ardor.tensor(s) for s in seqs], enforce_sorted=False)
    pt = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(pa.data.numpy(), pt.data.numpy())
    back = arnn.unpack_sequence(pa)
    for b, s in zip(back, seqs):
        np.testing.assert_array_equal(b.numpy(), s)
    assert isinstance(pa, arnn.PackedSequence) and isinstance(pa, tuple)
    assert pa.to(ardor.float64).data.dtype is ardor.float64
