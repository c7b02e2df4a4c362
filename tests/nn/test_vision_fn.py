"""F.pad / padding layers, F.interpolate / Upsample, pixel_shuffle vs torch 2.13."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ardor
import ardor.nn.functional as AF

RNG = np.random.default_rng(2)


def both(fa, ft, x, tol=1e-10, **kw):
    """Same input through ardor and torch; compare output and the input grad."""
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = fa(xa, **kw), ft(xt, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert str(ya.dtype).split(".")[-1] == str(yt.dtype).split(".")[-1]
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(tuple(yt.shape)).astype(x.dtype)
    (ya * ardor.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 5, 6), (1, 2, 3, 1)), ((3, 5, 6), (2, 1)),
                                       ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2))])
def test_pad_modes(mode, shape, pad):
    both(AF.pad, TF.pad, RNG.standard_normal(shape), pad=pad, mode=mode)


def test_pad_constant_negative_value_float32():
    both(AF.pad, TF.pad, RNG.standard_normal((2, 3, 5, 6)), pad=(1, -2, 3, 1, 0, 1), value=2.0)
    both(AF.pad, TF.pad, RNG.standard_normal((4,)).astype(np.float32), tol=0, pad=(2, 3))


@pytest.mark.parametrize("name,arg", [("ZeroPad2d", (1, 2, 0, 1)), ("ConstantPad1d", 2),
                                      ("ReflectionPad2d", (1, 0, 2, 1)), ("ReflectionPad1d", 2),
                                      ("ReplicationPad2d", 2), ("ReplicationPad3d", 1),
                                      ("CircularPad2d", (1, 2, 2, 0))])
def test_padding_modules(name, arg):
    args = (arg, 1.5) if name.startswith("Constant") else (arg,)
    am, tm = getattr(ardor.nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(am) == repr(tm)
    shape = {"1": (2, 3, 5), "2": (2, 3, 5, 4), "3": (1, 2, 3, 4, 3)}[name[-2]]
    both(am, tm, RNG.standard_normal(shape))


@pytest.mark.parametrize("mode,ac", [("nearest", None), ("nearest-exact", None),
                                     ("bilinear", False), ("bilinear", True),
                                     ("bicubic", False), ("bicubic", True)])
@pytest.mark.parametrize("kw", [dict(scale_factor=2.3), dict(size=(3, 9)),
                                dict(scale_factor=(1.7, 0.6), recompute_scale_factor=True),
                                dict(scale_factor=2)])
def test_interpolate_2d(mode, ac, kw):
    both(AF.interpolate, TF.interpolate, RNG.standard_normal((2, 3, 5, 6)), mode=mode,
         align_corners=ac, **kw)


def test_interpolate_1d_3d_area_float32():
    both(AF.interpolate, TF.interpolate, RNG.standard_normal((2, 3, 5)), scale_factor=3,
         mode="linear")
    both(AF.interpolate, TF.interpolate, RNG.standard_normal((1, 2, 3, 4, 5)), scale_factor=2,
         mode="trilinear", align_corners=True)
    both(AF.interpolate, TF.interpolate, RNG.standard_normal((1, 2, 6, 8)), size=(4, 3),
         mode="area")
    both(AF.interpolate, TF.interpolate, RNG.standard_normal((2, 3, 7, 5)).astype(np.float32),
         tol=1e-5, size=(12, 11), mode="bilinear")


def test_upsample_modules_and_pixel_shuffle():
    x = RNG.standard_normal((2, 8, 3, 4))
    for am, tm in [(ardor.nn.Upsample(scale_factor=2, mode="bilinear"),
                    torch.nn.Upsample(scale_factor=2, mode="bilinear")),
                   (ardor.nn.Upsample(size=(5, 7)), torch.nn.Upsample(size=(5, 7))),
                   (ardor.nn.UpsamplingNearest2d(scale_factor=3),
                    torch.nn.UpsamplingNearest2d(scale_factor=3)),
                   (ardor.nn.UpsamplingBilinear2d(size=(4, 4)),
                    torch.nn.UpsamplingBilinear2d(size=(4, 4))),
                   (ardor.nn.PixelShuffle(2), torch.nn.PixelShuffle(2))]:
        assert repr(am) == repr(tm)
        both(am, tm, x)
    both(AF.pixel_unshuffle, TF.pixel_unshuffle, RNG.standard_normal((2, 2, 6, 4)),
         downscale_factor=2)


@pytest.mark.parametrize("call", [
    lambda F, L: F.pad(L.randn(1, 1, 3), (3, 3), mode="reflect"),
    lambda F, L: F.pad(L.randn(3), (1, 1), mode="reflect"),
    lambda F, L: F.pad(L.randn(1, 1, 3), (1,)),
    lambda F, L: F.pad(L.randn(1, 1, 3), (1, 1, 1, 1, 1, 1, 1, 1)),
    lambda F, L: F.interpolate(L.randn(1, 1, 4), scale_factor=2, mode="bilinear"),
    lambda F, L: F.interpolate(L.randn(1, 1, 4), scale_factor=2, align_corners=True),
    lambda F, L: F.interpolate(L.randn(1, 1, 4), size=3, scale_factor=2),
    lambda F, L: F.interpolate(L.randn(1, 1, 4)),
    lambda F, L: F.pixel_shuffle(L.randn(1, 3, 2, 2), 2),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as et:
        call(TF, torch)
    with pytest.raises(type(et.value)) as ea:
        call(AF, ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)


@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("mode,pm", [("bilinear", "zeros"), ("bilinear", "border"),
                                     ("nearest", "zeros"), ("nearest", "border")])
def test_affine_grid_and_grid_sample(ac, mode, pm):
    th = RNG.standard_normal((2, 2, 3)) * 0.5
    both(lambda t: AF.affine_grid(t, (2, 3, 4, 5), align_corners=ac),
         lambda t: TF.affine_grid(t, (2, 3, 4, 5), align_corners=ac), th)
    x = RNG.standard_normal((2, 3, 6, 7))
    g = RNG.uniform(-1.3, 1.3, (2, 4, 5, 2))
    both(lambda xx: AF.grid_sample(xx, ardor.tensor(g), mode, pm, ac),
         lambda xx: TF.grid_sample(xx, torch.tensor(g), mode, pm, ac), x)
    both(lambda gg: AF.grid_sample(ardor.tensor(x), gg, mode, pm, ac),
         lambda gg: TF.grid_sample(torch.tensor(x), gg, mode, pm, ac), g)
    th3 = RNG.standard_normal((1, 3, 4))
    both(lambda t: AF.affine_grid(t, (1, 2, 3, 4, 5), align_corners=ac),
         lambda t: TF.affine_grid(t, (1, 2, 3, 4, 5), align_corners=ac), th3)


def test_channel_shuffle_fold_unfold_modules():
    x = RNG.standard_normal((2, 6, 3, 4))
    am, tm = ardor.nn.ChannelShuffle(3), torch.nn.ChannelShuffle(3)
    assert repr(am) == repr(tm)
    both(am, tm, x)
    am, tm = ardor.nn.Unfold(2, padding=1, stride=(1, 2)), torch.nn.Unfold(2, padding=1, stride=(1, 2))
    assert repr(am) == repr(tm)
    both(am, tm, x)
    cols = RNG.standard_normal((2, 6 * 4, 10))
    am, tm = ardor.nn.Fold((4, 5), 2, padding=(1, 0), stride=(1, 2)), \
        torch.nn.Fold((4, 5), 2, padding=(1, 0), stride=(1, 2))
    assert repr(am) == repr(tm)
    both(am, tm, cols)
    with pytest.raises(RuntimeError) as ea:
        AF.channel_shuffle(ardor.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError) as et:
        TF.channel_shuffle(torch.randn(1, 3, 2, 2), 2)
    assert str(ea.value) == str(et.value)
