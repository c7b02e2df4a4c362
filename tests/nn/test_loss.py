"""Losses vs torch 2.13 (functional and modules): values and gradients for every reduction,
class-index and class-probability cross entropy (weight, ignore_index, label_smoothing, K-dim),
NLL, BCE (+logits, pos_weight), KL, margin losses, and torch's errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ardor
import ardor.nn.functional as AF

RNG = np.random.default_rng(5)
REDS = ["none", "mean", "sum"]


def both(name, arrays, grads, tol=1e-10, consts=None, **kw):
    """F.<name> on ardor and torch; compare value and grads of the inputs flagged in grads.
    ``consts``: keyword tensors that do not require grad (class weights...)."""
    consts = consts or {}
    A = [ardor.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    T = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ka = {k: ardor.tensor(v) for k, v in consts.items()}
    kt = {k: torch.tensor(v) for k, v in consts.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ya, yt = getattr(AF, name)(*A, **ka, **kw), getattr(TF, name)(*T, **kt, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert str(ya.dtype).split(".")[-1] == str(yt.dtype).split(".")[-1]
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(tuple(yt.shape)).astype(yt.detach().numpy().dtype)
    (ya * ardor.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for a, t, g in zip(A, T, grads):
        if g:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


X = RNG.standard_normal((4, 5))
Y = RNG.standard_normal((4, 5))
W5 = RNG.random(5) + 0.5
P01 = RNG.random((4, 5)) * 0.9 + 0.05
T01 = RNG.random((4, 5))
TGT = np.array([0, 2, 4, 2])


@pytest.mark.parametrize("red", REDS)
def test_regression_losses(red):
    for name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        both(name, [X, Y], [True, True], reduction=red)
        both(name, [X, Y[0]], [True, True], reduction=red)           # broadcast target
    both("smooth_l1_loss", [X, Y], [True, True], reduction=red, beta=0.5)
    both("smooth_l1_loss", [X, Y], [True, True], reduction=red, beta=0.0)
    both("huber_loss", [X, Y], [True, True], reduction=red, delta=0.5)
    for name in ("mse_loss", "l1_loss", "huber_loss"):
        both(name, [X, Y], [True, True], consts={"weight": T01}, reduction=red)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.3])
@pytest.mark.parametrize("ii", [-100, 2])
def test_cross_entropy_index_targets(red, ls, ii):
    kw = dict(reduction=red, label_smoothing=ls, ignore_index=ii)
    both("cross_entropy", [X, TGT], [True, False], **kw)
    both("cross_entropy", [X, TGT], [True, False], consts={"weight": W5}, **kw)
    x3, t3 = RNG.standard_normal((2, 5, 3, 2)), RNG.integers(0, 5, (2, 3, 2))
    both("cross_entropy", [x3, t3], [True, False], consts={"weight": W5}, **kw)
    both("cross_entropy", [X[0], TGT[0]], [True, False], **kw)              # unbatched
    both("cross_entropy", [X.astype(np.float32), TGT], [True, False], tol=1e-5, **kw)


@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("ls", [0.0, 0.2])
def test_cross_entropy_probability_targets(red, ls):
    p = RNG.random((4, 5))
    p /= p.sum(1, keepdims=True)
    both("cross_entropy", [X, p], [True, True], reduction=red, label_smoothing=ls)
    both("cross_entropy", [X, p], [True, True], consts={"weight": W5}, reduction=red,
         label_smoothing=ls)


def test_cross_entropy_all_ignored_and_node_name():
    t = np.array([2, 2, 2, 2])
    both("cross_entropy", [X, t], [True, False], ignore_index=2)          # nan loss, zero grad
    y = AF.cross_entropy(ardor.tensor(X, requires_grad=True), ardor.tensor(TGT))
    assert type(y.grad_fn).__name__ == "NllLossBackward0"


@pytest.mark.parametrize("red", REDS)
def test_nll_bce_kl(red):
    both("nll_loss", [X, TGT], [True, False], consts={"weight": W5}, reduction=red,
         ignore_index=2)
    both("nll_loss", [RNG.standard_normal((2, 5, 3)), RNG.integers(0, 5, (2, 3))],
         [True, False], reduction=red)
    both("binary_cross_entropy", [P01, T01], [True, True], consts={"weight": Y * Y},
         reduction=red)
    both("binary_cross_entropy_with_logits", [X, T01], [True, True],
         consts={"weight": Y * Y, "pos_weight": W5}, reduction=red)
    both("binary_cross_entropy_with_logits", [X * 30, T01], [True, True], reduction=red)
    both("kl_div", [X, T01], [True, True], reduction=red)
    both("kl_div", [X, Y], [True, True], reduction=red, log_target=True)


@pytest.mark.parametrize("red", REDS)
def test_other_losses(red):
    sgn = np.array([1, -1, 1, -1.0])
    both("poisson_nll_loss", [X, T01 * 3], [True, True], reduction=red)
    both("poisson_nll_loss", [P01, T01 * 3], [True, True], reduction=red, log_input=False,
         full=True)
    both("gaussian_nll_loss", [X, Y, T01], [True, True, True], reduction=red)
    both("cosine_embedding_loss", [X, Y, sgn], [True, True, False], reduction=red, margin=0.2)
    both("margin_ranking_loss", [X[:, 0], Y[:, 0], sgn], [True, True, False], reduction=red,
         margin=0.2)
    both("hinge_embedding_loss", [X, np.sign(Y)], [True, False], reduction=red)
    both("triplet_margin_loss", [X, Y, RNG.standard_normal((4, 5))], [True, True, True],
         reduction=red, swap=True)
    both("soft_margin_loss", [X, np.sign(Y)], [True, False], reduction=red)
    both("multilabel_soft_margin_loss", [X, (Y > 0) * 1.0], [True, False],
         consts={"weight": W5}, reduction=red)
    both("multi_margin_loss", [X, TGT], [True, False], reduction=red)
    both("multi_margin_loss", [X, TGT], [True, False], consts={"weight": W5}, reduction=red,
         p=2, margin=0.5)
    both("kl_div", [X, T01], [True, True], reduction="batchmean")


@pytest.mark.parametrize("name,args,kw", [
    ("CrossEntropyLoss", (), dict(label_smoothing=0.1, ignore_index=1)),
    ("NLLLoss", (), dict(reduction="sum")), ("MSELoss", (), {}), ("L1Loss", (), dict(reduce=False)),
    ("SmoothL1Loss", (), dict(beta=0.5)), ("HuberLoss", (), dict(delta=2.0)),
    ("KLDivLoss", (), dict(reduction="batchmean", log_target=True)),
    ("BCEWithLogitsLoss", (), {}), ("SoftMarginLoss", (), {}),
    ("MultiMarginLoss", (), dict(p=2)), ("MultiLabelSoftMarginLoss", (), {}),
])
def test_loss_modules(name, args, kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        am, tm = getattr(ardor.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(am) == repr(tm)
    assert am.reduction == tm.reduction
    idx = name in ("CrossEntropyLoss", "NLLLoss", "MultiMarginLoss")
    x = X.astype(np.float32)
    t = TGT if idx else (np.sign(Y) if name == "SoftMarginLoss" else
                         ((Y > 0) * 1.0 if "Logits" in name or "Label" in name else Y)
                         ).astype(np.float32)
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    la, lt = am(xa, ardor.tensor(t)), tm(xt, torch.tensor(t))
    np.testing.assert_allclose(la.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
    la.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_weighted_loss_modules_register_buffers():
    am = ardor.nn.CrossEntropyLoss(weight=ardor.tensor(W5))
    tm = torch.nn.CrossEntropyLoss(weight=torch.tensor(W5))
    assert list(am.state_dict()) == list(tm.state_dict()) == ["weight"]
    am = ardor.nn.BCEWithLogitsLoss(pos_weight=ardor.tensor(W5))
    tm = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(W5))
    assert list(am.state_dict()) == list(tm.state_dict())


@pytest.mark.parametrize("call", [
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0, 5, 1])),
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0, 1])),
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0., 1, 2])),
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0, 1, 2]), weight=L.ones(3)),
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0, 1, 2]), label_smoothing=1.5),
    lambda F, L: F.cross_entropy(L.randn(3, 4), L.tensor([0, 1, 2]), reduction="avg"),
    lambda F, L: F.nll_loss(L.randn(3, 4), L.tensor([0, -1, 1])),
    lambda F, L: F.nll_loss(L.randn(2, 4, 3), L.tensor([[0, 1], [1, 2]])),
    lambda F, L: F.mse_loss(L.randn(3, 4), L.randn(3, 5)),
    lambda F, L: F.binary_cross_entropy(L.rand(3), L.rand(3, 1)),
    lambda F, L: F.binary_cross_entropy(L.rand(3) + 1, L.rand(3)),
    lambda F, L: F.binary_cross_entropy_with_logits(L.rand(3), L.rand(3, 1)),
    lambda F, L: F.triplet_margin_loss(L.randn(2, 3), L.randn(2, 3), L.randn(2, 3), margin=0),
])
def test_loss_errors_match_torch(call):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as et:
            call(TF, torch)
        with pytest.raises(type(et.value)) as ea:
            call(AF, ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)


@pytest.mark.parametrize("red", REDS)
def test_multilabel_margin_and_ctc(red):
    t = np.array([[3, 0, -1, 1, 2], [1, 2, 4, -1, 0], [0, 1, 2, 3, 4], [-1, 0, 0, 0, 0]])
    both("multilabel_margin_loss", [X, t], [True, False], reduction=red)
    both("multilabel_margin_loss", [X[0], t[0]], [True, False], reduction=red)
    T_, N, C = 7, 3, 5
    x = RNG.standard_normal((T_, N, C))
    tg, tl, il = np.array([[1, 2, 2, 0], [3, 1, 0, 0], [4, 4, 4, 0]]), np.array([3, 2, 1]), \
        np.array([7, 5, 6])
    for targets in (tg, np.array([1, 2, 2, 3, 1, 4])):
        both("ctc_loss", [x, targets, il, tl], [True, False, False, False], reduction=red)
        xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        la = AF.ctc_loss(AF.log_softmax(xa, 2), ardor.tensor(targets), ardor.tensor(il),
                         ardor.tensor(tl), reduction=red, zero_infinity=True)
        lt = TF.ctc_loss(TF.log_softmax(xt, 2), torch.tensor(targets), torch.tensor(il),
                         torch.tensor(tl), reduction=red, zero_infinity=True)
        np.testing.assert_allclose(la.detach().numpy(), lt.detach().numpy(), rtol=1e-10)
        la.sum().backward()
        lt.sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), atol=1e-10)
    am, tm = ardor.nn.CTCLoss(blank=4), torch.nn.CTCLoss(blank=4)
    assert repr(am) == repr(tm)
    np.testing.assert_allclose(am(ardor.tensor(x), ardor.tensor(tg % 4), ardor.tensor(il),
                                  ardor.tensor(tl)).numpy(),
                               tm(torch.tensor(x), torch.tensor(tg % 4), torch.tensor(il),
                                  torch.tensor(tl)).numpy(), rtol=1e-10)
    am, tm = ardor.nn.MultiLabelMarginLoss(reduction=red), torch.nn.MultiLabelMarginLoss(reduction=red)
    np.testing.assert_allclose(am(ardor.tensor(X), ardor.tensor(t)).numpy(),
                               tm(torch.tensor(X), torch.tensor(t)).numpy(), rtol=1e-10)
