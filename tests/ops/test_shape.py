"""Shape and movement ops against torch 2.13: values, gradients, view-ness, errors."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import ardor
from shape_oracle import raises_like, run, writes_through

R = np.random.default_rng(0)


def rn(*s):
    return R.standard_normal(s)


def ri(*s, hi=5):
    return R.integers(-hi, hi, s)


# (id, fn(lib, *inputs), inputs, non-contiguous input indices)
CASES = [
    ("view", lambda L, x: x.view(3, -1), [rn(2, 6)], ()),
    ("view_tuple", lambda L, x: x.view((4, 3)), [rn(12)], ()),
    ("view_as", lambda L, x: x.view_as(L.zeros(6, 2)), [rn(3, 4)], ()),
    ("reshape_view", lambda L, x: x.reshape(-1), [rn(3, 4)], ()),
    ("reshape_copy_nc", lambda L, x: x.reshape(12), [rn(3, 4)], (0,)),
    ("reshape_as", lambda L, x: x.reshape_as(L.zeros(2, 6)), [rn(3, 4)], (0,)),
    ("L.reshape", lambda L, x: L.reshape(x, (2, 2, 3)), [rn(3, 4)], ()),
    ("reshape_empty", lambda L, x: x.reshape(0, 5), [rn(2, 0)], ()),
    ("permute", lambda L, x: x.permute(2, 0, 1), [rn(2, 3, 4)], ()),
    ("permute_neg", lambda L, x: L.permute(x, (-1, 0, 1)), [rn(2, 3, 4)], (0,)),
    ("transpose", lambda L, x: x.transpose(0, -1), [rn(2, 3, 4)], ()),
    ("swapaxes", lambda L, x: L.swapaxes(x, 0, 1), [rn(2, 3)], ()),
    ("swapdims", lambda L, x: x.swapdims(1, 2), [rn(2, 3, 4)], ()),
    ("t", lambda L, x: x.t(), [rn(2, 3)], ()),
    ("t1d", lambda L, x: L.t(x), [rn(3)], ()),
    ("T", lambda L, x: x.T, [rn(2, 3)], ()),
    ("mT", lambda L, x: x.mT, [rn(2, 3, 4)], ()),
    ("expand", lambda L, x: x.expand(2, 3, 4), [rn(3, 1)], ()),
    ("expand_neg1", lambda L, x: x.expand(-1, 4), [rn(3, 1)], ()),
    ("expand_as", lambda L, x: x.expand_as(L.zeros(2, 3, 4)), [rn(4)], ()),
    ("broadcast_to", lambda L, x: L.broadcast_to(x, (3, 2, 4)), [rn(2, 1)], ()),
    ("squeeze", lambda L, x: x.squeeze(), [rn(2, 1, 3, 1)], ()),
    ("squeeze_dim", lambda L, x: x.squeeze(-1), [rn(2, 1, 3, 1)], ()),
    ("squeeze_noop", lambda L, x: x.squeeze(0), [rn(2, 1, 3, 1)], ()),
    ("squeeze_tuple", lambda L, x: x.squeeze((1, 0, 3)), [rn(2, 1, 3, 1)], ()),
    ("squeeze_0d", lambda L, x: x.squeeze(0), [rn()], ()),
    ("unsqueeze", lambda L, x: x.unsqueeze(-1), [rn(2, 3)], ()),
    ("unsqueeze0", lambda L, x: L.unsqueeze(x, 0), [rn()], ()),
    ("flatten", lambda L, x: x.flatten(), [rn(2, 3, 4)], ()),
    ("flatten_mid", lambda L, x: L.flatten(x, 1, -1), [rn(2, 3, 4)], (0,)),
    ("flatten_0d", lambda L, x: x.flatten(), [rn()], ()),
    ("unflatten", lambda L, x: x.unflatten(1, (2, -1)), [rn(3, 4)], ()),
    ("narrow", lambda L, x: x.narrow(1, 1, 2), [rn(3, 4)], ()),
    ("narrow_neg", lambda L, x: L.narrow(x, -1, -3, 2), [rn(3, 4)], (0,)),
    ("select", lambda L, x: x.select(1, -1), [rn(3, 4)], ()),
    ("select_fn", lambda L, x: L.select(x, 0, 2), [rn(3, 4)], (0,)),
    ("unbind", lambda L, x: x.unbind(1), [rn(3, 4)], ()),
    ("unbind_fn", lambda L, x: L.unbind(x, -1), [rn(2, 3)], (0,)),
    ("iter", lambda L, x: list(x), [rn(3, 2)], ()),
    ("chunk", lambda L, x: x.chunk(3, 1), [rn(2, 7)], ()),
    ("chunk_more", lambda L, x: L.chunk(x, 4, 0), [rn(3, 2)], ()),
    ("split_int", lambda L, x: x.split(2, -1), [rn(3, 5)], ()),
    ("split_list", lambda L, x: L.split(x, [1, 0, 3], 0), [rn(4, 2)], (0,)),
    ("split_with_sizes", lambda L, x: x.split_with_sizes([2, 2], 1), [rn(3, 4)], ()),
    ("tensor_split_sec", lambda L, x: x.tensor_split(3, 1), [rn(2, 7)], ()),
    ("tensor_split_idx", lambda L, x: L.tensor_split(x, [1, 4, 10], 0), [rn(5, 2)], ()),
    ("tensor_split_tensor", lambda L, x: L.tensor_split(x, L.tensor([2, 3])), [rn(5)], ()),
    ("hsplit", lambda L, x: L.hsplit(x, 2), [rn(3, 4)], ()),
    ("vsplit", lambda L, x: L.vsplit(x, [1]), [rn(3, 4)], ()),
    ("movedim", lambda L, x: x.movedim(0, -1), [rn(2, 3, 4)], ()),
    ("moveaxis", lambda L, x: L.moveaxis(x, (0, 1), (2, 0)), [rn(2, 3, 4)], ()),
    ("contiguous", lambda L, x: x.contiguous(), [rn(3, 4)], (0,)),
    ("diagonal", lambda L, x: x.diagonal(), [rn(3, 4)], ()),
    ("diagonal_off", lambda L, x: L.diagonal(x, 1, -1, 0), [rn(2, 3, 4)], (0,)),
    ("diagonal_negoff", lambda L, x: x.diagonal(-2, 1, 2), [rn(2, 4, 3)], ()),
    ("diagonal_empty", lambda L, x: x.diagonal(5), [rn(3, 4)], ()),
    ("cat", lambda L, x, y: L.cat([x, y], 1), [rn(2, 3), rn(2, 1)], (0,)),
    ("cat_neg", lambda L, x, y: L.cat((x, y), -2), [rn(2, 3), rn(1, 3)], ()),
    ("concat", lambda L, x, y: L.concat([x, y]), [rn(2), rn(3)], ()),
    ("concatenate", lambda L, x, y: L.concatenate([x, y], axis=0), [rn(2, 2), rn(1, 2)], ()),
    ("cat_promote", lambda L, x, y: L.cat([x, y.float()]), [ri(2, 3), rn(1, 3)], ()),
    ("cat_f32_f64", lambda L, x, y: L.cat([x.float(), y]), [rn(2, 3), rn(1, 3)], ()),
    ("cat_legacy_empty", lambda L, x, y: L.cat([x, y, x]), [rn(2, 3), rn(0)], ()),
    ("cat_empty", lambda L, x, y: L.cat([x, y], 1), [rn(2, 0), rn(2, 3)], ()),
    ("cat_one", lambda L, x: L.cat([x]), [rn(2, 3)], ()),
    ("stack", lambda L, x, y: L.stack([x, y]), [rn(2, 3), rn(2, 3)], (1,)),
    ("stack_neg", lambda L, x, y: L.stack([x, y], -1), [rn(2, 3), rn(2, 3)], ()),
    ("stack_0d", lambda L, x, y: L.stack([x, y]), [rn(), rn()], ()),
    ("hstack", lambda L, x, y: L.hstack([x, y]), [rn(2, 3), rn(2, 1)], ()),
    ("hstack1d", lambda L, x, y: L.hstack([x, y]), [rn(2), rn(3)], ()),
    ("vstack", lambda L, x, y: L.vstack([x, y]), [rn(3), rn(2, 3)], ()),
    ("row_stack", lambda L, x, y: L.row_stack([x, y]), [rn(3), rn(3)], ()),
    ("dstack", lambda L, x, y: L.dstack([x, y]), [rn(2, 3), rn(2, 3, 2)], ()),
    ("column_stack", lambda L, x, y: L.column_stack([x, y]), [rn(3), rn(3, 2)], ()),
    ("atleast_1d", lambda L, x: L.atleast_1d(x), [rn()], ()),
    ("atleast_2d", lambda L, x, y: L.atleast_2d(x, y), [rn(3), rn()], ()),
    ("atleast_3d", lambda L, x, y, z: L.atleast_3d((x, y, z)), [rn(3), rn(), rn(2, 3)], ()),
    ("repeat", lambda L, x: x.repeat(2, 1, 3), [rn(2, 3)], ()),
    ("repeat_same", lambda L, x: x.repeat(2, 2), [rn(2, 3)], (0,)),
    ("repeat_zero", lambda L, x: x.repeat(0, 2), [rn(2, 3)], ()),
    ("tile", lambda L, x: x.tile((2,)), [rn(2, 3)], ()),
    ("tile_more", lambda L, x: L.tile(x, (2, 1, 2)), [rn(2, 3)], ()),
    ("repeat_interleave", lambda L, x: x.repeat_interleave(2), [rn(2, 3)], ()),
    ("repeat_interleave_dim", lambda L, x: L.repeat_interleave(x, 3, dim=-1), [rn(2, 3)], (0,)),
    ("repeat_interleave_t", lambda L, x: x.repeat_interleave(L.tensor([1, 0, 2]), dim=0),
     [rn(3, 2)], ()),
    ("repeat_interleave_only", lambda L, x: L.repeat_interleave(L.tensor([2, 0, 1])), [rn(1)],
     ()),
    ("flip", lambda L, x: x.flip(0, -1), [rn(2, 3, 4)], ()),
    ("flip_list", lambda L, x: L.flip(x, [1]), [rn(2, 3)], (0,)),
    ("fliplr", lambda L, x: L.fliplr(x), [rn(2, 3)], ()),
    ("flipud", lambda L, x: x.flipud(), [rn(2, 3)], ()),
    ("roll", lambda L, x: x.roll(1), [rn(2, 3)], ()),
    ("roll_dims", lambda L, x: L.roll(x, (1, -2), (0, -1)), [rn(2, 3)], (0,)),
    ("roll_dim", lambda L, x: x.roll(-1, 1), [rn(2, 3)], ()),
    ("tril", lambda L, x: x.tril(), [rn(3, 4)], ()),
    ("tril_k", lambda L, x: L.tril(x, -1), [rn(2, 4, 3)], (0,)),
    ("triu", lambda L, x: x.triu(1), [rn(3, 4)], ()),
    ("triu_fn", lambda L, x: L.triu(x, -2), [rn(4, 4)], ()),
    ("diag_1d", lambda L, x: L.diag(x), [rn(3)], ()),
    ("diag_1d_k", lambda L, x: x.diag(-1), [rn(3)], ()),
    ("diag_2d", lambda L, x: L.diag(x, 1), [rn(3, 4)], (0,)),
    ("diag_embed", lambda L, x: L.diag_embed(x), [rn(2, 3)], ()),
    ("diag_embed_args", lambda L, x: x.diag_embed(1, 0, 2), [rn(2, 3)], ()),
    ("diagflat", lambda L, x: L.diagflat(x, -1), [rn(2, 2)], ()),
    ("meshgrid_ij", lambda L, x, y: L.meshgrid(x, y, indexing="ij"), [rn(3), rn(2)], ()),
    ("meshgrid_xy", lambda L, x, y, z: L.meshgrid([x, y, z], indexing="xy"),
     [rn(3), rn(2), rn(4)], ()),
    ("broadcast_tensors", lambda L, x, y: L.broadcast_tensors(x, y), [rn(3, 1), rn(4)], ()),
    ("clone", lambda L, x: x.clone(), [rn(3, 4)], (0,)),
    ("adjoint", lambda L, x: x.adjoint(), [rn(2, 3)], ()),
    ("unfold", lambda L, x: x.unfold(1, 2, 1), [rn(3, 4)], ()),
    ("unfold_step", lambda L, x: x.unfold(0, 2, 2), [rn(5, 3)], (0,)),
    ("unfold_0d", lambda L, x: x.unfold(0, 1, 1), [rn()], ()),
    ("as_strided", lambda L, x: x.as_strided((2, 2), (1, 2), 1), [rn(3, 4)], ()),
    ("as_strided_overlap", lambda L, x: L.as_strided(x, (3, 3), (1, 1)), [rn(3, 4)], ()),
    ("as_strided_view", lambda L, x: x[1:].as_strided((2, 3), (4, 1)), [rn(3, 4)], ()),
    ("rot90", lambda L, x: L.rot90(x), [rn(2, 3)], ()),
    ("rot90_k", lambda L, x: x.rot90(3, [2, 0]), [rn(2, 3, 2)], ()),
    ("rot90_neg", lambda L, x: L.rot90(x, -2, (0, 1)), [rn(2, 3)], (0,)),
    ("select_scatter", lambda L, x, y: L.select_scatter(x, y, 1, -1), [rn(3, 4), rn(3)], ()),
    ("slice_scatter", lambda L, x, y: L.slice_scatter(x, y, 0, 1, None, 2), [rn(5, 2), rn(2, 2)],
     ()),
    ("diagonal_scatter", lambda L, x, y: L.diagonal_scatter(x, y, -1), [rn(3, 4), rn(2)], ()),
    ("ravel", lambda L, x: x.ravel(), [rn(3, 4)], ()),
    ("ravel_nc", lambda L, x: L.ravel(x), [rn(3, 4)], (0,)),
    ("narrow_copy", lambda L, x: L.narrow_copy(x, 1, 1, 2), [rn(3, 4)], ()),
    ("block_diag", lambda L, x, y, z: L.block_diag(x, y, z), [rn(2, 2), rn(3), rn()], ()),
    ("cartesian_prod", lambda L, x, y: L.cartesian_prod(x, y), [rn(2), rn(3)], ()),
]


@pytest.mark.parametrize("name,fn,inputs,nc", CASES, ids=[c[0] for c in CASES])
def test_against_torch(name, fn, inputs, nc):
    run(fn, *inputs, nc=nc)


@pytest.mark.parametrize("name,fn,inputs,nc", CASES, ids=[c[0] for c in CASES])
def test_writes_reach_base_exactly_when_torch_views(name, fn, inputs, nc):
    if name in ("unfold", "as_strided_overlap"):
        # self-overlapping views: torch's in-place result follows its kernel's element order
        # (each alias adds again); ardor computes out of place and writes once
        pytest.skip("self-overlapping view")
    writes_through(fn, *inputs)


def test_int_and_bool_dtypes_kept():
    for dt in (np.int32, np.int64, np.bool_):
        x = (ri(2, 3) > 0).astype(dt) if dt is np.bool_ else ri(2, 3).astype(dt)
        for fn in (lambda L, x: x.flip(0), lambda L, x: L.cat([x, x]), lambda L, x: x.t(),
                   lambda L, x: x.repeat(1, 2), lambda L, x: x.roll(1), lambda L, x: x.tril(),
                   lambda L, x: L.stack([x, x], 1), lambda L, x: x.unbind(0)):
            run(fn, x, grad=False)


def test_shared_version_counter_and_storage():
    for lib in (ardor, torch):
        a = lib.zeros(3, 4)
        for v in (a[0], a.view(12), a.t(), a.unsqueeze(0), a.diagonal(), a.narrow(1, 1, 2),
                  a.unbind(1)[2], a.split(2, 1)[1], a.expand(2, 3, 4), a.movedim(0, 1)):
            assert v._base is a
            ver = (lambda t: t._version[0]) if lib is ardor else (lambda t: t._version)
            before = ver(a)
            a.add_(1)
            assert ver(v) == ver(a) == before + 1
            v2 = v.detach()
            assert ver(v2) == ver(a)
    a = ardor.zeros(3, 4)
    s = a[1:, ::2]
    s.fill_(5.0)
    t = torch.zeros(3, 4)
    t[1:, ::2].fill_(5.0)
    np.testing.assert_array_equal(a.numpy(), t.numpy())
    assert s.data_ptr() == a.data_ptr() + a.stride(0) * a.element_size()


ERRORS = [
    (lambda L, x: x.view(5, -1), [rn(3, 4)]),
    (lambda L, x: x.view(2.0, 6), [rn(3, 4)]),
    (lambda L, x: x.reshape((2, 6.0)), [rn(3, 4)]),
    (lambda L, x: x.expand(3, None), [rn(3, 1)]),
    (lambda L, x: x.permute(0, 1.0), [rn(3, 4)]),
    (lambda L, x: x.repeat(2, "a"), [rn(3, 4)]),
    (lambda L, x: x.view(-1, -1), [rn(3, 4)]),
    (lambda L, x: x.t().view(12), [rn(3, 4)]),
    (lambda L, x: x.permute(0, 0), [rn(3, 4)]),
    (lambda L, x: x.permute(0), [rn(3, 4)]),
    (lambda L, x: x.transpose(0, 2), [rn(3, 4)]),
    (lambda L, x: x.t(), [rn(2, 3, 4)]),
    (lambda L, x: x.expand(3, 5), [rn(3, 4)]),
    (lambda L, x: x.expand(4), [rn(3, 4)]),
    (lambda L, x: x.unsqueeze(3), [rn(3, 4)]),
    (lambda L, x: x.squeeze(2), [rn(3, 4)]),
    (lambda L, x: x.squeeze((0, 0)), [rn(3, 4)]),
    (lambda L, x: x.narrow(0, 4, 1), [rn(3, 4)]),
    (lambda L, x: x.narrow(0, 1, 5), [rn(3, 4)]),
    (lambda L, x: x.select(0, 3), [rn(3, 4)]),
    (lambda L, x: x.select(2, 0), [rn(3, 4)]),
    (lambda L, x: x.unbind(), [rn()]),
    (lambda L, x: x.chunk(0), [rn(3, 4)]),
    (lambda L, x: x.split(0), [rn(3, 4)]),
    (lambda L, x: x.split([1, 1]), [rn(3, 4)]),
    (lambda L, x: x.unflatten(1, (3, -1)), [rn(3, 4)]),
    (lambda L, x: x.flatten(1, 0), [rn(3, 4)]),
    (lambda L, x: x.movedim((0, 1), (0, 0)), [rn(3, 4)]),
    (lambda L, x: x.diagonal(0, 1, 1), [rn(3, 4)]),
    (lambda L, x: L.cat([]), []),
    (lambda L, x: L.cat([x, x[0]]), [rn(3, 4)]),
    (lambda L, x: L.cat([x, x.t()]), [rn(3, 4)]),
    (lambda L, x: L.cat([x[0, 0], x[0, 0]]), [rn(3, 4)]),
    (lambda L, x: L.cat([x, x], 2), [rn(3, 4)]),
    (lambda L, x: L.cat(x), [rn(3, 4)]),
    (lambda L, x: L.stack([x, x.t()]), [rn(3, 4)]),
    (lambda L, x: L.stack([]), []),
    (lambda L, x: x.repeat(2), [rn(3, 4)]),
    (lambda L, x: x.flip(0, 0), [rn(3, 4)]),
    (lambda L, x: x.roll((1, 2), 0), [rn(3, 4)]),
    (lambda L, x: L.tril(x), [rn(3)]),
    (lambda L, x: L.diag(x), [rn(2, 2, 2)]),
    (lambda L, x: L.broadcast_shapes((2, 3), (4,)), []),
    (lambda L, x: L.broadcast_tensors(x, x.t()), [rn(3, 4)]),
    (lambda L, x: L.meshgrid(x, indexing="yx"), [rn(3)]),
    (lambda L, x: L.fliplr(x), [rn(3)]),
    (lambda L, x: x.expand(3, 4)[None].expand(2, 3, 4).add_(1), [rn(3, 4)]),
    (lambda L, x: x.unfold(1, 5, 1), [rn(3, 4)]),
    (lambda L, x: x.unfold(1, 2, 0), [rn(3, 4)]),
    (lambda L, x: x.as_strided((5, 5), (4, 4)), [rn(3, 4)]),
    (lambda L, x: L.rot90(x, 1, (0, 0)), [rn(3, 4)]),
    (lambda L, x: L.select_scatter(x, x, 0, 0), [rn(3, 4)]),
    (lambda L, x: L.block_diag(x[None]), [rn(3, 4)]),
]


@pytest.mark.parametrize("fn,inputs", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_as_torch(fn, inputs):
    ea, et = raises_like(fn, *(inputs or [rn(1)]))
    if isinstance(et, RuntimeError) and "Sizes of tensors" in str(et):
        assert str(ea) == str(et)


def test_error_messages_name_sizes():
    ea, et = raises_like(lambda L, x, y: L.cat([x, y]), rn(2, 3), rn(3, 4))
    assert str(ea) == str(et)
    ea, et = raises_like(lambda L, x, y: L.stack([x, y]), rn(2, 3), rn(3, 3))
    assert str(ea) == str(et)
    ea, et = raises_like(lambda L, x: x.narrow(0, 1, 5), rn(3, 4))
    assert str(ea) == str(et)
    ea, et = raises_like(lambda L, x: L.broadcast_shapes((2, 3), (4,)))
    assert str(ea) == str(et)


def test_cat_dtype_promotion_and_grad_dtypes():
    run(lambda L, x, y, z: L.cat([x.float(), y, z.half().float()]), rn(2), rn(3), rn(1))
    run(lambda L, x, y: L.cat([x.bool(), y.int()]), ri(2), ri(3), grad=False)
    run(lambda L, x, y: L.cat([x.int(), y]), ri(2, 3), rn(0), grad=False)
    run(lambda L, x, y: L.stack([x.float(), y]), rn(2), rn(2))


def test_new_factories():
    for lib in (ardor, torch):
        x = lib.ones(2, 3, dtype=lib.float64)
        assert x.new_zeros(2).dtype == lib.float64
        assert x.new_ones((2, 1)).shape == (2, 1)
        assert x.new_full((3,), 2.5).tolist() == [2.5] * 3
        assert x.new_empty(4).shape == (4,)
        assert x.new_tensor([1, 2]).dtype == lib.float64
        assert x.new_zeros(2, dtype=lib.int32).dtype == lib.int32


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.lists(st.sampled_from([0, 1]), min_size=0, max_size=3), st.data())
def test_broadcasting_property(shape, ones, data):
    """broadcast_tensors / expand / broadcast_shapes agree with torch on random shapes."""
    other = [1 if (i < len(ones) and ones[i]) else s for i, s in enumerate(shape)]
    lead = data.draw(st.lists(st.integers(1, 2), max_size=2))
    other = lead + other
    x = R.standard_normal(tuple(shape))
    y = R.standard_normal(tuple(other))
    run(lambda L, x, y: L.broadcast_tensors(x, y), x, y)
    assert tuple(ardor.broadcast_shapes(shape, other)) == tuple(torch.broadcast_shapes(shape,
                                                                                       other))
    run(lambda L, x, y: x.expand_as(L.broadcast_tensors(x, y)[1]) + 0 * y.sum(), x, y)


NODE_NAMES = {
    "unbind": lambda L, x: x.unbind()[0], "split": lambda L, x: x.split(2)[0],
    "split_sizes": lambda L, x: x.split([1, 2])[0], "chunk": lambda L, x: x.chunk(2)[0],
    "tensor_split": lambda L, x: x.tensor_split(2)[0], "narrow": lambda L, x: x.narrow(0, 1, 1),
    "diagonal": lambda L, x: x.diagonal(), "cat": lambda L, x: L.cat([x, x]),
    "stack": lambda L, x: L.stack([x, x]), "repeat": lambda L, x: x.repeat(2, 1),
    "flip": lambda L, x: x.flip(0), "roll": lambda L, x: x.roll(1, 0),
    "tril": lambda L, x: x.tril(),
    "diag_embed": lambda L, x: L.diag_embed(x), "expand": lambda L, x: x[0].expand(2, 4),
    "movedim": lambda L, x: x.movedim(0, 1), "flatten": lambda L, x: x.flatten(),
    "unflatten": lambda L, x: x.unflatten(1, (2, 2)), "t": lambda L, x: x.t(),
    "T": lambda L, x: x.T, "transpose": lambda L, x: x.transpose(0, 1),
    "permute": lambda L, x: x.permute(1, 0), "view": lambda L, x: x.view(12),
    "reshape_copy": lambda L, x: x.t().reshape(12), "unsqueeze": lambda L, x: x.unsqueeze(0),
    "select": lambda L, x: x.select(0, 1), "alias": lambda L, x: x[...],
    "meshgrid": lambda L, x: L.meshgrid(x[0], x[1], indexing="ij")[0],
    "tile": lambda L, x: x.tile(2), "clone": lambda L, x: x.clone(),
    "squeeze": lambda L, x: x[None].squeeze(), "squeeze_dim": lambda L, x: x[None].squeeze(0),
    "squeeze_dims": lambda L, x: x[None].squeeze((0,)), "cat1": lambda L, x: L.cat([x]),
    "expand_same": lambda L, x: x.expand(3, 4), "reshape_same": lambda L, x: x.reshape(3, 4),
    "repeat_interleave_t": lambda L, x: x.repeat_interleave(L.tensor([1, 2, 1]), dim=0),
    "swapaxes": lambda L, x: x.swapaxes(0, 1), "view_as": lambda L, x: x.view_as(x),
    "diag1d": lambda L, x: x[0].diag(), "hstack": lambda L, x: L.hstack([x, x]),
}


@pytest.mark.parametrize("name", list(NODE_NAMES))
def test_grad_fn_names_as_torch(name):
    names = []
    for lib in (ardor, torch):
        x = lib.ones(3, 4, requires_grad=True)
        names.append(type(NODE_NAMES[name](lib, x).grad_fn).__name__)
    assert names[0] == names[1]


EMPTY = [
    lambda L, x: x.flip(0), lambda L, x: x.roll(1, 0), lambda L, x: x.repeat(2, 2),
    lambda L, x: L.cat([x, x]), lambda L, x: L.stack([x, x], 1), lambda L, x: x.sort(1),
    lambda L, x: x.topk(0, 1), lambda L, x: x.t(), lambda L, x: x.unbind(1),
    lambda L, x: x.split(1, 1), lambda L, x: x.chunk(2, 0), lambda L, x: x[x > 0],
    lambda L, x: x[:, [0, 2]], lambda L, x: x.reshape(-1, 3), lambda L, x: x.tril(),
    lambda L, x: x.diagonal(), lambda L, x: x.unfold(1, 2, 1),
    lambda L, x: x.index_select(1, L.tensor([0, 0])), lambda L, x: x.masked_fill(x > 0, 1.0),
    lambda L, x: x.nonzero(), lambda L, x: x.flatten(), lambda L, x: x.movedim(0, 1),
    lambda L, x: x.take(L.tensor([], dtype=L.int64)), lambda L, x: x.argsort(),
    lambda L, x: x.gather(0, L.zeros(0, 3, dtype=L.int64)), lambda L, x: x.tensor_split(2, 0),
    lambda L, x: L.diag_embed(x), lambda L, x: x.repeat_interleave(2, 0),
    lambda L, x: x.tile(2), lambda L, x: x.scatter_add(0, L.zeros(0, 3, dtype=L.int64), x),
]


@pytest.mark.parametrize("k", range(len(EMPTY)))
def test_empty_inputs(k):
    run(EMPTY[k], np.zeros((0, 3)))
    if k < 5:
        run(EMPTY[k], np.zeros((2, 0)))


@pytest.mark.parametrize("fn", [
    lambda L, x, out: L.cat([x, x], out=out), lambda L, x, out: L.stack([x, x], 1, out=out),
    lambda L, x, out: L.tril(x, out=out), lambda L, x, out: L.hstack([x, x], out=out),
    lambda L, x, out: L.gather(x, 1, L.tensor([[0], [2]]), out=out),
    lambda L, x, out: L.index_select(x, 1, L.tensor([2, 0]), out=out),
    lambda L, x, out: L.sort(x, out=(out, L.zeros(0, dtype=L.int64))),
    lambda L, x, out: L.topk(x, 2, out=(out, L.zeros(0, dtype=L.int64))),
], ids=["cat", "stack", "tril", "hstack", "gather", "index_select", "sort", "topk"])
def test_out_argument(fn):
    x = rn(2, 3)
    res = []
    for lib in (ardor, torch):
        for out in (lib.zeros(0, dtype=lib.float64), lib.zeros(1, dtype=lib.float64)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns when resizing a non-empty out
                r = fn(lib, lib.tensor(x), out)
            first = r[0] if isinstance(r, tuple) else r
            assert first is out
            res.append(np.array(first.tolist()))
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic"):
            fn(lib, lib.tensor(x, requires_grad=True), lib.zeros(0, dtype=lib.float64))
    for a, t in zip(res[:2], res[2:]):
        np.testing.assert_allclose(a, t)
    # a float32 out: the cat family casts, the others refuse (same outcome as torch)
    outcome = []
    for lib in (ardor, torch):
        try:
            fn(lib, lib.tensor(x), lib.zeros(len(x), dtype=lib.float32))
            outcome.append(None)
        except (RuntimeError, TypeError) as e:
            outcome.append(type(e))
    assert outcome[0] == outcome[1]


def test_resize_():
    for lib in (ardor, torch):
        x = lib.arange(6.0) if hasattr(lib, "arange") else lib.tensor([0.0, 1, 2, 3, 4, 5])
        x.resize_(2, 2)
        assert x.tolist() == [[0.0, 1.0], [2.0, 3.0]]
        x.resize_(3, 2)
        assert x.shape == (3, 2) and x.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
        y = lib.zeros(4, 5)
        x.resize_as_(y)
        assert x.shape == (4, 5)
    ea, et = raises_like(lambda L, x: x.requires_grad_().resize_(2), rn(3))
    assert str(ea) == str(et)


FUNCS = """view_as reshape reshape_as permute transpose swapaxes swapdims t expand expand_as squeeze
unsqueeze flatten unflatten narrow select unbind chunk split tensor_split movedim moveaxis
contiguous diagonal as_strided cat concat concatenate stack hstack vstack dstack column_stack
repeat repeat_interleave tile flip fliplr flipud roll gather scatter scatter_ scatter_add
scatter_add_ scatter_reduce index_select index_add index_add_ index_copy index_fill index_fill_
index_put index_put_ masked_fill masked_fill_ masked_select masked_scatter take take_along_dim
put_ nonzero argwhere sort argsort msort topk kthvalue unique unique_consecutive searchsorted
bucketize tril triu tril_ triu_ diag diag_embed diagflat meshgrid broadcast_to broadcast_tensors
broadcast_shapes atleast_1d atleast_2d atleast_3d clone zero_ fill_ copy_ new_zeros new_ones
new_full new_empty new_tensor unfold view unsqueeze_ squeeze_ t_ transpose_ swapaxes_
swapdims_ as_strided_ resize_ resize_as_ rot90 ravel narrow_copy select_scatter slice_scatter
diagonal_scatter block_diag cartesian_prod hsplit vsplit dsplit adjoint split_with_sizes
index_copy_ masked_scatter_ scatter_reduce_ put""".split()


@pytest.mark.parametrize("name", FUNCS)
def test_public_names_exist_where_torch_has_them(name):
    for where_t, where_a in ((torch, ardor), (torch.Tensor, ardor.Tensor)):
        if hasattr(where_t, name):
            assert hasattr(where_a, name), f"{where_a.__name__}.{name} is missing"
