"""Dropout family (train/eval, statistics, validation) and Embedding / EmbeddingBag vs torch."""
import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
import ardor.nn.functional as F
from tests.nn._nnutil import load_from_torch, norm_msg, run_both

rng = np.random.default_rng(2)


@pytest.mark.parametrize("cls,shape", [("Dropout", (200, 100)), ("Dropout1d", (50, 40, 3)),
                                       ("Dropout2d", (20, 100, 2, 2)),
                                       ("Dropout3d", (10, 100, 2, 2, 2))])
def test_dropout_train_eval(cls, shape):
    m = getattr(nn, cls)(0.3)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.3))
    x = ardor.ones(*shape, requires_grad=True)
    y = m(x)
    a = y.detach().numpy()
    assert np.all(np.isclose(a, 0) | np.isclose(a, 1 / 0.7))
    assert abs((a == 0).mean() - 0.3) < 0.06
    if cls != "Dropout":   # whole channels are dropped together
        per = a.reshape(shape[0], shape[1], -1)
        assert np.all((per == per[..., :1]))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a)
    m.eval()
    assert m(x) is x
    with pytest.raises(ValueError) as ae:
        getattr(nn, cls)(1.5)
    with pytest.raises(ValueError) as te:
        getattr(torch.nn, cls)(1.5)
    assert str(ae.value) == str(te.value)


def test_dropout_functional_edges():
    x = ardor.ones(100)
    assert F.dropout(x, 0.5, training=False) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)
    assert np.all(F.dropout(x, 0.0).numpy() == 1)
    with pytest.raises(ValueError):
        F.dropout(x, -0.1)
    y = ardor.ones(100)
    F.dropout(y, 0.5, inplace=True)
    assert set(np.unique(y.numpy()).tolist()) <= {0.0, 2.0}
    with pytest.raises(RuntimeError):
        F.dropout1d(ardor.ones(2, 3, 4, 5))
    unb = F.dropout1d(ardor.ones(30, 4), 0.5)
    assert tuple(unb.shape) == (30, 4) and np.all(unb.numpy() == unb.numpy()[:, :1])


@pytest.mark.parametrize("cls", ["AlphaDropout", "FeatureAlphaDropout"])
def test_alpha_dropout_keeps_moments(cls):
    m = getattr(nn, cls)(0.2)
    assert repr(m) == repr(getattr(torch.nn, cls)(0.2))
    x = ardor.tensor(rng.standard_normal((400, 500, 1)).astype(np.float32))
    y = m(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    m.eval()
    assert m(x) is x


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 1}, {"padding_idx": -2},
                                {"scale_grad_by_freq": True}, {"max_norm": 1.0},
                                {"max_norm": 0.5, "norm_type": 1.0}])
@pytest.mark.parametrize("shape", [(3, 4), (5,), ()])
def test_embedding_matches_torch(kw, shape):
    tm = torch.nn.Embedding(6, 3, **kw)
    am = load_from_torch(nn.Embedding(6, 3, **kw), tm)
    assert repr(am) == repr(tm)
    idx = rng.integers(0, 6, shape)
    run_both(am, tm, idx, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(am.weight.detach().numpy(), tm.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-7)


def test_embedding_errors_and_from_pretrained():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError) as ae:
        e(ardor.tensor([4]))
    with pytest.raises(IndexError) as te:
        torch.nn.Embedding(4, 2)(torch.tensor([4]))
    assert str(ae.value) == str(te.value)
    with pytest.raises(IndexError):
        e(ardor.tensor([-1]))
    with pytest.raises(RuntimeError):
        e(ardor.tensor([1.0]))
    with pytest.raises(AssertionError):
        nn.Embedding(4, 2, padding_idx=4)
    w = ardor.tensor([[1.0, 2.0], [3.0, 4.0]])
    f = nn.Embedding.from_pretrained(w)
    assert not f.weight.requires_grad
    np.testing.assert_array_equal(f(ardor.tensor([1])).numpy(), [[3.0, 4.0]])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    with pytest.raises(AssertionError):
        nn.Embedding.from_pretrained(ardor.zeros(3))


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("variant", ["offsets", "2d", "last_offset", "padding", "empty_bag"])
def test_embedding_bag_matches_torch(mode, variant):
    kw = {"mode": mode}
    if variant == "last_offset":
        kw["include_last_offset"] = True
    if variant == "padding":
        kw["padding_idx"] = 2
    tm = torch.nn.EmbeddingBag(7, 3, **kw)
    am = load_from_torch(nn.EmbeddingBag(7, 3, **kw), tm)
    assert repr(am) == repr(tm)
    if variant == "2d":
        run_both(am, tm, rng.integers(0, 7, (4, 3)))
        return
    idx = np.array([0, 2, 4, 2, 1, 6, 3, 2])
    offs = {"offsets": [0, 3, 5], "last_offset": [0, 3, 5, 8], "padding": [0, 3, 5],
            "empty_bag": [0, 3, 3, 5]}[variant]
    ai, ti = ardor.tensor(idx), torch.tensor(idx)
    ao, to = ardor.tensor(offs), torch.tensor(offs)
    ya, yt = am(ai, ao), tm(ti, to)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (ya * ardor.tensor(g)).sum().backward(), (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(am.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5,
                               atol=1e-6)


def test_embedding_bag_per_sample_weights_and_errors():
    tm = torch.nn.EmbeddingBag(5, 2, mode="sum")
    am = load_from_torch(nn.EmbeddingBag(5, 2, mode="sum"), tm)
    idx, off = np.array([0, 1, 4, 3]), np.array([0, 2])
    psw = rng.standard_normal(4).astype(np.float32)
    pa, pt = ardor.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    ya = am(ardor.tensor(idx), ardor.tensor(off), per_sample_weights=pa)
    yt = tm(torch.tensor(idx), torch.tensor(off), per_sample_weights=pt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-7)
    ya.sum().backward(), yt.sum().backward()
    np.testing.assert_allclose(pa.grad.numpy(), pt.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(am.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5)
    mean = nn.EmbeddingBag(5, 2)
    with pytest.raises(NotImplementedError):
        mean(ardor.tensor(idx), ardor.tensor(off), per_sample_weights=pa)
    with pytest.raises(ValueError):
        mean(ardor.tensor(idx))
    with pytest.raises(ValueError):
        mean(ardor.tensor([[0, 1]]), ardor.tensor([0]))
    with pytest.raises(ValueError):
        F.embedding_bag(ardor.tensor(idx), mean.weight, ardor.tensor(off), mode="median")


@pytest.mark.parametrize("nc", [-1, 5])
def test_one_hot(nc):
    x = np.array([[0, 3], [1, 2]])
    np.testing.assert_array_equal(F.one_hot(ardor.tensor(x), nc).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(x), nc).numpy())
    assert F.one_hot(ardor.tensor(x), nc).dtype is ardor.int64
    with pytest.raises(RuntimeError):
        F.one_hot(ardor.tensor([5]), 3)
    with pytest.raises(RuntimeError):
        F.one_hot(ardor.tensor([-1]), 3)


@pytest.mark.parametrize("fn,kw", [("normalize", {}), ("normalize", {"p": 1, "dim": 0}),
                                   ("cosine_similarity", {}), ("cosine_similarity", {"dim": 0}),
                                   ("pairwise_distance", {}),
                                   ("pairwise_distance", {"p": 1.0, "keepdim": True}),
                                   ("pdist", {})])
def test_distance_functions(fn, kw):
    x1 = rng.standard_normal((4, 5))
    x2 = rng.standard_normal((4, 5))
    nargs = 1 if fn in ("normalize", "pdist") else 2
    A = [ardor.tensor(x, requires_grad=True) for x in (x1, x2)[:nargs]]
    T = [torch.tensor(x, requires_grad=True) for x in (x1, x2)[:nargs]]
    ya, yt = getattr(F, fn)(*A, **kw), getattr(torch.nn.functional, fn)(*T, **kw)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-9)
    ya.sum().backward(), yt.sum().backward()
    for a, t in zip(A, T):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-12)


def test_bad_input_errors_match_torch():
    cases = [
        (lambda L: L.nn.functional.embedding(L.tensor([0]), L.zeros(3))),
        (lambda L: L.nn.functional.embedding_bag(L.tensor([0, 1]), L.zeros(3, 2),
                                                 L.tensor([1]))),
        (lambda L: L.nn.Linear(3, 2)(L.zeros(()))),
        (lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(5, 3, 8), L.zeros(6, 3, 8),
                                                 L.zeros(7, 3, 8))),
        (lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(5, 3, 8), L.zeros(6, 8),
                                                 L.zeros(6, 8))),
        (lambda L: L.nn.MultiheadAttention(8, 2)(L.zeros(5, 3, 7), L.zeros(6, 3, 7),
                                                 L.zeros(6, 3, 7))),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(torch)
        with pytest.raises(Exception) as ae:
            case(ardor)
        assert type(ae.value) is type(te.value)
        # first line: torch appends a C++ tensor dump to some messages
        assert norm_msg(ae.value).splitlines()[0] == norm_msg(te.value).splitlines()[0]
