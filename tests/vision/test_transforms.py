"""Transforms against torch / numpy references."""
import numpy as np
import pytest
import torch

import ardor
from ardor.vision import transforms as T


def test_to_tensor_and_normalize_match_torch_formulas():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    x = T.ToTensor()(img)
    ref = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(x.numpy(), ref.numpy(), rtol=1e-6)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.6, 0.7)
    y = T.Normalize(mean, std)(x)
    tref = (ref - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    np.testing.assert_allclose(y.numpy(), tref.numpy(), rtol=1e-5, atol=1e-6)
    assert T.ToTensor()(img[:, :, 0]).shape == (1, 5, 6)
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0,), (0,))(ardor.zeros(1, 2, 2))
    with pytest.raises(TypeError):
        T.Normalize((0,), (1,))(ardor.zeros(1, 2, 2, dtype=ardor.int64))


@pytest.mark.parametrize("size", [(8, 10), (3, 4), (5, 5)])
def test_resize_bilinear_matches_torch_interpolate(size):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 6, 7)).astype(np.float32)
    ours = T.Resize(size)(ardor.from_numpy(x)).numpy()
    ref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                          mode="bilinear", align_corners=False,
                                          antialias=False)[0]
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-5)
    near = T.Resize(size, interpolation="nearest")(ardor.from_numpy(x)).numpy()
    nref = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                           mode="nearest")[0]
    np.testing.assert_allclose(near, nref.numpy())


def test_resize_int_keeps_aspect():
    assert T.Resize(4)(np.zeros((8, 16), np.uint8)).shape == (4, 8)
    assert T.Resize(4)(ardor.zeros(1, 16, 8)).shape == (1, 8, 4)


def test_crops_and_flips():
    x = ardor.from_numpy(np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6))
    np.testing.assert_array_equal(T.CenterCrop(3)(x).numpy(), x.numpy()[:, 1:4, 2:5])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x).numpy(),
                                  x.numpy()[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x).numpy(), x.numpy())
    ardor.manual_seed(0)
    c = T.RandomCrop(4, padding=2)(x)
    assert c.shape == (2, 4, 4)
    padded = np.pad(x.numpy(), ((0, 0), (2, 2), (2, 2)))
    windows = [padded[:, i:i + 4, j:j + 4] for i in range(6) for j in range(7)]
    assert any((w == c.numpy()).all() for w in windows)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(10)(x)
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(arr), arr[:, ::-1])


def test_random_transforms_follow_the_seed():
    x = ardor.rand(1, 8, 8)
    tf = T.Compose([T.RandomCrop(5), T.RandomHorizontalFlip()])
    ardor.manual_seed(3)
    a = tf(x)
    ardor.manual_seed(3)
    b = tf(x)
    assert (a.numpy() == b.numpy()).all()


def test_convert_image_dtype():
    u = ardor.from_numpy(np.array([[[0, 128, 255]]], np.uint8))
    f = T.ConvertImageDtype(ardor.float32)(u)
    np.testing.assert_allclose(f.numpy(), np.array([[[0, 128, 255]]]) / 255.0, rtol=1e-6)
    back = T.ConvertImageDtype(ardor.uint8)(f)
    assert back.tolist() == [[[0, 128, 255]]]
    with pytest.raises(TypeError):
        T.Lambda(3)
