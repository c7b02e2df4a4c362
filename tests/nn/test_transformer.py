"""Transformer layers/stacks and the distance modules against torch 2.13: outputs, input and
parameter gradients, state_dict keys, reprs, masks, inference (fast/nested path) results,
errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ardor
from ardor import nn
from ardor.nn import functional as AF

from tests.nn._nnutil import load_from_torch, norm_msg, run_both

E, H, FF = 8, 2, 12
S, T, N = 5, 4, 3


@pytest.fixture(autouse=True)
def _quiet():
    # torch and ardor both warn about nested tensors when batch_first is False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _rng(seed=0):
    return np.random.default_rng(seed)


def _x(rng, *shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def _pair_modules(tcls, acls, *args, seed=0, **kw):
    torch.manual_seed(seed)
    tm = tcls(*args, **kw)
    am = acls(*[_to_ardor_kw(a) for a in args], **{k: _to_ardor_kw(v) for k, v in kw.items()})
    load_from_torch(am, tm)
    return am, tm


def _to_ardor_kw(v):
    if v is torch.nn.functional.relu:
        return AF.relu
    if v is torch.nn.functional.gelu:
        return AF.gelu
    if isinstance(v, torch.nn.GELU):
        return nn.GELU()
    if isinstance(v, torch.nn.ReLU):
        return nn.ReLU()
    if v is torch.float64:
        return ardor.float64
    return v


def _seq_shape(L, batch_first, batched=True):
    if not batched:
        return (L, E)
    return (N, L, E) if batch_first else (L, N, E)


def _kpm(L, rng):
    """A bool key padding mask (N, L) with at least one kept position per row."""
    m = rng.random((N, L)) < 0.35
    m[:, 0] = False
    return m


def _masks(kind, L_q, L_k, rng, prefix):
    """ardor-tensor kwargs for a mask kind: float / bool attention masks, key padding masks,
    causal flags."""
    kw = {}
    if kind == "float":
        kw[f"{prefix}mask"] = ardor.tensor(_x(rng, L_q, L_k))
    elif kind == "bool_kpm":
        am = rng.random((L_q, L_k)) < 0.3
        am[:, 0] = False
        kw[f"{prefix}mask"] = ardor.tensor(am)
    elif kind == "causal":
        kw[f"{prefix}mask"] = nn.Transformer.generate_square_subsequent_mask(L_q)
    return kw


ENC_MASKS = ["none", "float", "bool_kpm", "causal", "kpm_only"]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ENC_MASKS)
def test_encoder_layer(norm_first, activation, batch_first, masks):
    rng = _rng(1)
    am, tm = _pair_modules(torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer, E, H,
                           FF, 0.0, activation, 1e-5, batch_first, norm_first)
    kw = {}
    if masks == "float":
        kw["src_mask"] = ardor.tensor(_x(rng, S, S))
    elif masks == "bool_kpm":
        m = rng.random((S, S)) < 0.3
        m[:, 0] = False
        kw["src_mask"] = ardor.tensor(m)
        kw["src_key_padding_mask"] = ardor.tensor(_kpm(S, rng))
    elif masks == "causal":
        kw["src_mask"] = nn.Transformer.generate_square_subsequent_mask(S)
        kw["is_causal"] = True
    elif masks == "kpm_only":
        kw["src_key_padding_mask"] = ardor.tensor(_kpm(S, rng))
    run_both(am, tm, _x(rng, *_seq_shape(S, batch_first)), rtol=1e-4, atol=1e-5, **kw)


DEC_MASKS = ["none", "float", "bool_kpm", "causal"]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", DEC_MASKS)
def test_decoder_layer(norm_first, activation, batch_first, masks):
    rng = _rng(2)
    am, tm = _pair_modules(torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer, E, H,
                           FF, 0.0, activation, 1e-5, batch_first, norm_first)
    kw = {}
    if masks == "float":
        kw["tgt_mask"] = ardor.tensor(_x(rng, T, T))
        kw["memory_mask"] = ardor.tensor(_x(rng, T, S))
    elif masks == "bool_kpm":
        m = rng.random((T, S)) < 0.3
        m[:, 0] = False
        kw["memory_mask"] = ardor.tensor(m)
        kw["tgt_key_padding_mask"] = ardor.tensor(_kpm(T, rng))
        kw["memory_key_padding_mask"] = ardor.tensor(_kpm(S, rng))
    elif masks == "causal":
        kw["tgt_mask"] = nn.Transformer.generate_square_subsequent_mask(T)
        kw["tgt_is_causal"] = True
    run_both(am, tm, _x(rng, *_seq_shape(T, batch_first)),
             _x(rng, *_seq_shape(S, batch_first)), rtol=1e-4, atol=1e-5, **kw)


@pytest.mark.parametrize("cls", ["enc", "dec"])
def test_layers_unbatched_float64_and_callable_activation(cls):
    rng = _rng(3)
    if cls == "enc":
        tcls, acls = torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer
        arrays = (_x(rng, S, E, dtype=np.float64),)
    else:
        tcls, acls = torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer
        arrays = (_x(rng, T, E, dtype=np.float64), _x(rng, S, E, dtype=np.float64))
    for act in (torch.nn.functional.gelu, torch.nn.GELU(), torch.nn.ReLU()):
        am, tm = _pair_modules(tcls, acls, E, H, FF, 0.0, act, dtype=torch.float64)
        assert list(am.state_dict()) == list(tm.state_dict())
        run_both(am, tm, *arrays, rtol=1e-9, atol=1e-10)
    # bias=False, a custom eps and an arbitrary callable
    torch.manual_seed(0)
    tm = tcls(E, H, FF, 0.0, torch.tanh, 1e-3, bias=False, dtype=torch.float64)
    am = acls(E, H, FF, 0.0, ardor.tanh, 1e-3, bias=False, dtype=ardor.float64)
    load_from_torch(am, tm)
    assert list(am.state_dict()) == list(tm.state_dict())
    run_both(am, tm, *arrays, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack(batch_first, norm_first):
    rng = _rng(4)
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(E, H, FF, 0.0, batch_first=batch_first,
                                          norm_first=norm_first)
    tm = torch.nn.TransformerEncoder(tl, 3, norm=torch.nn.LayerNorm(E))
    al = nn.TransformerEncoderLayer(E, H, FF, 0.0, batch_first=batch_first,
                                    norm_first=norm_first)
    am = nn.TransformerEncoder(al, 3, norm=nn.LayerNorm(E))
    assert list(am.state_dict()) == list(tm.state_dict())
    # the stack holds deep copies of the layer (same values, distinct parameters)
    np.testing.assert_array_equal(am.layers[1].linear1.weight.detach().numpy(),
                                  al.linear1.weight.detach().numpy())
    assert am.layers[0].linear1.weight is not am.layers[1].linear1.weight
    assert am.layers[0].linear1.weight is not al.linear1.weight
    load_from_torch(am, tm)
    x = _x(rng, *_seq_shape(S, batch_first))
    run_both(am, tm, x, rtol=1e-4, atol=1e-5)
    # causal mask, detected from its values (is_causal=None) or flagged
    cm = nn.Transformer.generate_square_subsequent_mask(S)
    run_both(am, tm, x, mask=cm, rtol=1e-4, atol=1e-5)
    run_both(am, tm, x, mask=cm, is_causal=True, rtol=1e-4, atol=1e-5)
    run_both(am, tm, x, src_key_padding_mask=ardor.tensor(_kpm(S, rng)), rtol=1e-4,
             atol=1e-5)
    run_both(am, tm, x, mask=ardor.tensor(_x(rng, S, S)),
             src_key_padding_mask=ardor.tensor(_x(rng, N, S)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_stack(batch_first):
    rng = _rng(5)
    torch.manual_seed(0)
    tm = torch.nn.TransformerDecoder(
        torch.nn.TransformerDecoderLayer(E, H, FF, 0.0, "gelu", batch_first=batch_first), 2,
        norm=torch.nn.LayerNorm(E))
    am = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(E, H, FF, 0.0, "gelu", batch_first=batch_first), 2,
        norm=nn.LayerNorm(E))
    assert list(am.state_dict()) == list(tm.state_dict())
    assert am.layers[0].self_attn.in_proj_weight is not am.layers[1].self_attn.in_proj_weight
    load_from_torch(am, tm)
    tgt, mem = _x(rng, *_seq_shape(T, batch_first)), _x(rng, *_seq_shape(S, batch_first))
    run_both(am, tm, tgt, mem, rtol=1e-4, atol=1e-5)
    run_both(am, tm, tgt, mem, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
             memory_key_padding_mask=ardor.tensor(_kpm(S, rng)),
             tgt_key_padding_mask=ardor.tensor(_kpm(T, rng)), rtol=1e-4, atol=1e-5)
    # no final norm
    tm.norm, am.norm = None, None
    run_both(am, tm, tgt, mem, memory_mask=ardor.tensor(_x(rng, T, S)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer(batch_first, norm_first):
    rng = _rng(6)
    am, tm = _pair_modules(torch.nn.Transformer, nn.Transformer, E, H, 2, 2, FF, 0.0,
                           batch_first=batch_first, norm_first=norm_first)
    assert list(am.state_dict()) == list(tm.state_dict())
    src, tgt = _x(rng, *_seq_shape(S, batch_first)), _x(rng, *_seq_shape(T, batch_first))
    run_both(am, tm, src, tgt, rtol=1e-4, atol=1e-5)
    run_both(am, tm, src, tgt, src_mask=ardor.tensor(_x(rng, S, S)),
             tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
             memory_mask=ardor.tensor(_x(rng, T, S)),
             src_key_padding_mask=ardor.tensor(_kpm(S, rng)),
             tgt_key_padding_mask=ardor.tensor(_kpm(T, rng)),
             memory_key_padding_mask=ardor.tensor(_kpm(S, rng)), rtol=1e-4, atol=1e-5)
    run_both(am, tm, src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
             tgt_is_causal=True, rtol=1e-4, atol=1e-5)
    # unbatched
    run_both(am, tm, _x(rng, S, E), _x(rng, T, E), rtol=1e-4, atol=1e-5)


def test_transformer_defaults_and_eval_with_dropout():
    torch.manual_seed(0)
    tm = torch.nn.Transformer(16, 4, 1, 1, 32)   # dropout=0.1 default
    am = nn.Transformer(16, 4, 1, 1, 32)
    assert list(am.state_dict()) == list(tm.state_dict())
    assert (am.d_model, am.nhead, am.batch_first) == (16, 4, False)
    layer = am.encoder.layers[0]
    assert layer.dropout.p == 0.1 and layer.linear1.out_features == 32
    assert layer.norm1.eps == 1e-5 and layer.activation is AF.relu
    assert layer.activation_relu_or_gelu == tm.encoder.layers[0].activation_relu_or_gelu
    assert am.encoder.norm is not None and am.decoder.norm is not None
    # parameters are xavier-uniform (bound sqrt(6 / (fan_in + fan_out))), biases as torch
    w = am.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / 48) and w.std() > 0.1
    np.testing.assert_array_equal(am.encoder.layers[0].self_attn.in_proj_bias.detach().numpy(),
                                  0)
    load_from_torch(am, tm)
    am.eval()
    tm.eval()
    rng = _rng(7)
    run_both(am, tm, _x(rng, S, N, 16), _x(rng, T, N, 16), rtol=1e-4, atol=1e-5)
    # default layer sizes
    tl = torch.nn.TransformerEncoderLayer(8, 2)
    al = nn.TransformerEncoderLayer(8, 2)
    assert norm_msg(repr(tl)) == repr(al)
    # training with dropout: shapes and finiteness (torch's random stream differs)
    am.train()
    out = am(ardor.tensor(_x(rng, S, N, 16)), ardor.tensor(_x(rng, T, N, 16)))
    assert tuple(out.shape) == (T, N, 16) and np.isfinite(out.detach().numpy()).all()


def test_repr_and_state_dict_keys():
    torch.manual_seed(0)
    cases = [
        (torch.nn.Transformer(8, 2, 2, 1, 16, 0.0),
         nn.Transformer(8, 2, 2, 1, 16, 0.0)),
        (torch.nn.Transformer(8, 2, 1, 1, 16, 0.2, bias=False, batch_first=True),
         nn.Transformer(8, 2, 1, 1, 16, 0.2, bias=False, batch_first=True)),
        (torch.nn.TransformerEncoderLayer(8, 2, 16, activation=torch.nn.GELU()),
         nn.TransformerEncoderLayer(8, 2, 16, activation=nn.GELU())),
        (torch.nn.TransformerDecoderLayer(8, 2, 16, layer_norm_eps=1e-3, norm_first=True),
         nn.TransformerDecoderLayer(8, 2, 16, layer_norm_eps=1e-3, norm_first=True)),
        (torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16), 3),
         nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), 3)),
        (torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 16), 2,
                                     torch.nn.LayerNorm(8)),
         nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16), 2, nn.LayerNorm(8))),
        (torch.nn.CosineSimilarity(), nn.CosineSimilarity()),
        (torch.nn.CosineSimilarity(0, 1e-3), nn.CosineSimilarity(0, 1e-3)),
        (torch.nn.PairwiseDistance(), nn.PairwiseDistance()),
        (torch.nn.PairwiseDistance(1.0, 1e-3, True), nn.PairwiseDistance(1.0, 1e-3, True)),
    ]
    for tm, am in cases:
        assert repr(am) == norm_msg(repr(tm))
        assert list(am.state_dict()) == list(tm.state_dict())
        assert [tuple(v.shape) for v in am.state_dict().values()] == \
            [tuple(v.shape) for v in tm.state_dict().values()]
    # a state_dict round trip back into torch
    tm, am = cases[0]
    tm.load_state_dict({k: torch.tensor(v.detach().numpy())
                        for k, v in am.state_dict().items()})
    assert nn.TransformerEncoderLayer.__constants__ == ["norm_first"]
    pd = nn.PairwiseDistance(3.0, 1e-4, True)
    assert (pd.norm, pd.eps, pd.keepdim) == (3.0, 1e-4, True)


def test_custom_encoder_decoder():
    torch.manual_seed(0)
    tenc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, FF, 0.0), 1)
    tdec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, FF, 0.0), 1)
    tm = torch.nn.Transformer(E, H, custom_encoder=tenc, custom_decoder=tdec)
    am = nn.Transformer(E, H, custom_encoder=nn.TransformerEncoder(
        nn.TransformerEncoderLayer(E, H, FF, 0.0), 1), custom_decoder=nn.TransformerDecoder(
        nn.TransformerDecoderLayer(E, H, FF, 0.0), 1))
    assert repr(am) == norm_msg(repr(tm))
    assert list(am.state_dict()) == list(tm.state_dict())
    load_from_torch(am, tm)
    rng = _rng(8)
    run_both(am, tm, _x(rng, S, N, E), _x(rng, T, N, E), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [None, torch.float64])
@pytest.mark.parametrize("sz", [0, 1, 5])
def test_generate_square_subsequent_mask(sz, dtype):
    tm = torch.nn.Transformer.generate_square_subsequent_mask(sz, dtype=dtype)
    am = nn.Transformer.generate_square_subsequent_mask(sz, dtype=_to_ardor_kw(dtype))
    assert str(am.dtype).split(".")[-1] == str(tm.dtype).split(".")[-1]
    np.testing.assert_array_equal(am.numpy(), tm.numpy())
    # callable on an instance too (staticmethod)
    np.testing.assert_array_equal(nn.Transformer(8, 2, 1, 1, 8)
                                  .generate_square_subsequent_mask(3).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())


def _kpm_cases():
    left = np.array([[0, 0, 0, 1, 1], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)
    ragged = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]], bool)
    empty_row = np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]], bool)
    return {"left": left, "ragged": ragged, "empty_row": empty_row}


@pytest.mark.parametrize("mask_check", [True, False])
@pytest.mark.parametrize("case", ["left", "ragged", "empty_row", "float"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_encoder_inference(mask_check, case, batch_first):
    """Eval mode without gradients: torch takes its fused / nested-tensor paths; the values
    (including zeros at padded positions from the nested path) must be the same."""
    rng = _rng(9)
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(E, H, FF, 0.0, batch_first=batch_first)
    tm = torch.nn.TransformerEncoder(tl, 2, torch.nn.LayerNorm(E), mask_check=mask_check)
    am = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, 0.0,
                                                          batch_first=batch_first), 2,
                               nn.LayerNorm(E), mask_check=mask_check)
    assert am.use_nested_tensor == tm.use_nested_tensor
    load_from_torch(am, tm)
    with torch.no_grad():
        tm.norm.bias.normal_()   # padded positions come out as the norm's bias
    load_from_torch(am, tm)
    tm.eval()
    am.eval()
    x = _x(rng, *_seq_shape(S, batch_first))
    if case == "float":
        kpm = np.where(_kpm_cases()["left"], -1e4, 0.0).astype(np.float32)
    else:
        kpm = _kpm_cases()[case]
    with torch.no_grad():
        to = tm(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
        tlo = tm.layers[0](torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    with ardor.no_grad():
        ao = am(ardor.tensor(x), src_key_padding_mask=ardor.tensor(kpm))
        alo = am.layers[0](ardor.tensor(x), src_key_padding_mask=ardor.tensor(kpm))
    np.testing.assert_allclose(ao.numpy(), to.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(alo.numpy(), tlo.numpy(), rtol=1e-4, atol=1e-5)
    # eval with gradients wanted: torch's ordinary path (no zeroing)
    xa = ardor.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ao = am(xa, src_key_padding_mask=ardor.tensor(kpm))
    to = tm(xt, src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_decoder_and_transformer_inference():
    rng = _rng(10)
    am, tm = _pair_modules(torch.nn.Transformer, nn.Transformer, E, H, 1, 2, FF, 0.0,
                           batch_first=True)
    am.eval()
    tm.eval()
    src, tgt = _x(rng, N, S, E), _x(rng, N, T, E)
    skpm = _kpm_cases()["left"]
    with torch.no_grad():
        to = tm(torch.tensor(src), torch.tensor(tgt),
                tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(T),
                src_key_padding_mask=torch.tensor(skpm),
                memory_key_padding_mask=torch.tensor(skpm))
    with ardor.no_grad():
        ao = am(ardor.tensor(src), ardor.tensor(tgt),
                tgt_mask=nn.Transformer.generate_square_subsequent_mask(T),
                src_key_padding_mask=ardor.tensor(skpm),
                memory_key_padding_mask=ardor.tensor(skpm))
    np.testing.assert_allclose(ao.numpy(), to.numpy(), rtol=1e-4, atol=1e-5)


def test_errors_and_warnings():
    tr_t = torch.nn.Transformer(8, 2, 1, 1, 16, 0.0)
    tr_a = nn.Transformer(8, 2, 1, 1, 16, 0.0)
    rng = _rng(11)
    bad = [((_x(rng, 5, 3, 6), _x(rng, 4, 3, 8)), {}),       # wrong d_model (src)
           ((_x(rng, 5, 3, 8), _x(rng, 4, 3, 6)), {}),       # wrong d_model (tgt)
           ((_x(rng, 5, 3, 8), _x(rng, 4, 2, 8)), {}),       # batch mismatch
           ((_x(rng, 5, 3, 8), _x(rng, 4, 3, 8)),            # bad tgt mask shape
            {"tgt_mask": _x(rng, 3, 3)}),
           ((_x(rng, 5, 3, 8), _x(rng, 4, 3, 8)),            # integer mask
            {"src_key_padding_mask": np.zeros((3, 5), np.int64)})]
    for (s, t), kw in bad:
        with pytest.raises(Exception) as te:
            tr_t(torch.tensor(s), torch.tensor(t), **{k: torch.tensor(v) for k, v in kw.items()})
        with pytest.raises(te.type):
            tr_a(ardor.tensor(s), ardor.tensor(t), **{k: ardor.tensor(v) for k, v in kw.items()})
    # layers given the wrong feature size / memory batch
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16)
    al = nn.TransformerEncoderLayer(8, 2, 16)
    x = _x(rng, 5, 3, 6)
    with pytest.raises(Exception) as te:
        tl(torch.tensor(x))
    with pytest.raises(te.type):
        al(ardor.tensor(x))
    td = torch.nn.TransformerDecoderLayer(8, 2, 16)
    ad = nn.TransformerDecoderLayer(8, 2, 16)
    tgt, mem = _x(rng, 4, 3, 8), _x(rng, 5, 2, 8)
    with pytest.raises(Exception) as te:
        td(torch.tensor(tgt), torch.tensor(mem))
    with pytest.raises(te.type):
        ad(ardor.tensor(tgt), ardor.tensor(mem))
    # is_causal without a mask
    x = _x(rng, 5, 3, 8)
    with pytest.raises(Exception) as te:
        tl(torch.tensor(x), is_causal=True)
    with pytest.raises(te.type):
        al(ardor.tensor(x), is_causal=True)
    # bad activation name, nhead not dividing d_model
    for args in [(8, 2, 16, 0.1, "tanh"), (8, 3, 16)]:
        for tcls, acls in [(torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer),
                           (torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer)]:
            with pytest.raises(Exception) as te:
                tcls(*args)
            with pytest.raises(te.type, match=".*"):
                acls(*args)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.Transformer(8, 2, 1, 1, 16, activation="tanh")


@pytest.mark.parametrize("kw,nh", [(dict(batch_first=False), 2), (dict(batch_first=True), 2),
                                   (dict(batch_first=True, norm_first=True), 2),
                                   (dict(batch_first=True, activation=torch.tanh), 2),
                                   (dict(batch_first=True, bias=False), 2),
                                   (dict(batch_first=True, layer_norm_eps=1e-3), 1)])
def test_nested_tensor_warning(kw, nh):
    akw = {k: (ardor.tanh if v is torch.tanh else v) for k, v in kw.items()}
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, nh, 16, **kw), 1)
    with warnings.catch_warnings(record=True) as aw:
        warnings.simplefilter("always")
        am = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, nh, 16, **akw), 1)
    assert [str(w.message) for w in aw] == [str(w.message) for w in tw]
    assert am.use_nested_tensor == tm.use_nested_tensor
    assert am.enable_nested_tensor is True and am.mask_check is True
    am2 = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, nh, 16, **akw), 1,
                                enable_nested_tensor=False)
    assert am2.use_nested_tensor is False


def test_mismatched_mask_types_warn():
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, 0.0)
    al = nn.TransformerEncoderLayer(8, 2, 16, 0.0)
    load_from_torch(al, tl)
    rng = _rng(12)
    x, m, kpm = _x(rng, 5, 3, 8), _x(rng, 5, 5), _kpm(5, rng)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        to = tl(torch.tensor(x), torch.tensor(m), torch.tensor(kpm))
    with warnings.catch_warnings(record=True) as aw:
        warnings.simplefilter("always")
        ao = al(ardor.tensor(x), ardor.tensor(m), ardor.tensor(kpm))
    msg = "Support for mismatched src_key_padding_mask and src_mask is deprecated"
    assert any(msg in str(w.message) for w in tw) and any(msg in str(w.message) for w in aw)
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)


# ----- distance modules ---------------------------------------------------------------------

@pytest.mark.parametrize("args,shapes", [
    ((), [(4, 6), (4, 6)]),
    ((1, 1e-8), [(3, 5, 2), (1, 5, 2)]),          # broadcasting
    ((-1,), [(3, 4), (3, 4)]),
    ((0, 0.5), [(4,), (4,)]),                      # 1-D, large eps (norms clamped)
    ((2,), [(2, 3, 4), (2, 3, 4)]),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_similarity(args, shapes, dtype):
    rng = _rng(13)
    tm, am = torch.nn.CosineSimilarity(*args), nn.CosineSimilarity(*args)
    arrays = [(_x(rng, *s) * 0.3).astype(dtype) for s in shapes]
    run_both(am, tm, *arrays, rtol=1e-5, atol=1e-6)


def test_cosine_similarity_noncontiguous_and_zero():
    rng = _rng(14)
    a = _x(rng, 6, 4)
    b = np.zeros((4, 6), np.float32)
    am, tm = nn.CosineSimilarity(dim=0), torch.nn.CosineSimilarity(dim=0)
    at, bt = ardor.tensor(a, requires_grad=True), ardor.tensor(b.T, requires_grad=True)
    tt, ut = torch.tensor(a, requires_grad=True), torch.tensor(b.T, requires_grad=True)
    ao, to = am(at.t().t(), bt), tm(tt.t().t(), ut)
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), atol=1e-6)
    ao.sum().backward()
    to.sum().backward()
    np.testing.assert_allclose(at.grad.numpy(), tt.grad.numpy(), atol=1e-6)
    np.testing.assert_allclose(bt.grad.numpy(), ut.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("args", [(), (1.0,), (3.0, 1e-3), (2.0, 1e-6, True), (1.0, 0.0, True),
                                  (float("inf"),)])
@pytest.mark.parametrize("shapes", [[(4, 6), (4, 6)], [(3, 5), (5,)], [(6,), (6,)],
                                    [(2, 3, 4), (2, 3, 4)]])
def test_pairwise_distance(args, shapes):
    rng = _rng(15)
    tm, am = torch.nn.PairwiseDistance(*args), nn.PairwiseDistance(*args)
    arrays = [_x(rng, *s, dtype=np.float64) for s in shapes]
    run_both(am, tm, *arrays, rtol=1e-9, atol=1e-10)


def test_distance_errors():
    rng = _rng(16)
    a, b = _x(rng, 4, 5), _x(rng, 4, 6)
    for tm, am in [(torch.nn.CosineSimilarity(), nn.CosineSimilarity()),
                   (torch.nn.PairwiseDistance(), nn.PairwiseDistance())]:
        with pytest.raises(Exception) as te:
            tm(torch.tensor(a), torch.tensor(b))
        with pytest.raises(te.type):
            am(ardor.tensor(a), ardor.tensor(b))
    with pytest.raises(Exception) as te:
        torch.nn.CosineSimilarity(dim=3)(torch.tensor(a), torch.tensor(a))
    with pytest.raises(te.type):
        nn.CosineSimilarity(dim=3)(ardor.tensor(a), ardor.tensor(a))


def _dead_mask_cases():
    kpm = _kpm_cases()["empty_row"]
    m = np.zeros((S, S), np.float32)
    m[2] = -np.inf
    m2 = np.zeros((S, S), np.float32)
    m2[1, :3] = -np.inf                  # with kpm row 0 padding keys 3, 4: query 1 dead
    m3 = np.zeros((N * H, S, S), np.float32)
    m3[1, 2] = -np.inf                   # batch 0, head 1, query 2
    return {"kpm": (None, kpm), "mask": (m, None), "mask+kpm": (m2, kpm), "mask3d": (m3, None)}


@pytest.mark.parametrize("case", ["kpm", "mask", "mask+kpm", "mask3d"])
@pytest.mark.parametrize("batch_first", [True, False])
def test_fully_masked_queries_inference_and_training(case, batch_first):
    """Queries that may attend to nothing: torch's fused inference kernels give NaN there, its
    layer-by-layer code zeros (safe softmax); NaN positions and the other values must match."""
    rng = _rng(17)
    mask, kpm = _dead_mask_cases()[case]
    x = _x(rng, *_seq_shape(S, batch_first))
    am, tm = _pair_modules(torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer, E, H,
                           FF, 0.0, batch_first=batch_first)
    mha_a, mha_t = am.self_attn, tm.self_attn
    kw_t = {k: torch.tensor(v) for k, v in (("src_mask", mask), ("src_key_padding_mask", kpm))
            if v is not None}
    kw_a = {k: ardor.tensor(v) for k, v in (("src_mask", mask), ("src_key_padding_mask", kpm))
            if v is not None}
    mkw_t = {{"src_mask": "attn_mask"}.get(k, "key_padding_mask"): v for k, v in kw_t.items()}
    mkw_a = {{"src_mask": "attn_mask"}.get(k, "key_padding_mask"): v for k, v in kw_a.items()}
    for mode in ("train", "eval"):
        getattr(am, mode)()
        getattr(tm, mode)()
        with torch.no_grad():
            to = tm(torch.tensor(x), **kw_t)
            tmo = [mha_t(*[torch.tensor(x)] * 3, need_weights=nw, **mkw_t)[0]
                   for nw in (False, True)]
        with ardor.no_grad():
            ao = am(ardor.tensor(x), **kw_a)
            amo = [mha_a(*[ardor.tensor(x)] * 3, need_weights=nw, **mkw_a)[0]
                   for nw in (False, True)]
        np.testing.assert_allclose(ao.numpy(), to.numpy(), rtol=1e-4, atol=1e-5)
        for a, t in zip(amo, tmo):
            np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)
    # with gradients (torch's ordinary path): zeros from the safe softmax, finite gradients
    am.train()
    tm.train()
    _, to = run_both(am, tm, x, rtol=1e-4, atol=1e-5, **kw_a)
    assert not np.isnan(to.detach().numpy()).any()


def test_decoder_layer_fully_padded_target_inference():
    rng = _rng(18)
    am, tm = _pair_modules(torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer, E, H,
                           FF, 0.0, batch_first=True)
    am.eval()
    tm.eval()
    tgt, mem = _x(rng, N, S, E), _x(rng, N, S, E)
    kpm = _kpm_cases()["empty_row"]
    with torch.no_grad():
        to = tm(torch.tensor(tgt), torch.tensor(mem), tgt_key_padding_mask=torch.tensor(kpm),
                memory_key_padding_mask=torch.tensor(kpm))
    with ardor.no_grad():
        ao = am(ardor.tensor(tgt), ardor.tensor(mem), tgt_key_padding_mask=ardor.tensor(kpm),
                memory_key_padding_mask=ardor.tensor(kpm))
    np.testing.assert_allclose(ao.numpy(), to.numpy(), rtol=1e-4, atol=1e-5)
    assert np.isnan(to.numpy()).any()


def test_unbatched_masks_and_noncontiguous_inputs():
    rng = _rng(19)
    am, tm = _pair_modules(torch.nn.TransformerEncoderLayer, nn.TransformerEncoderLayer, E, H,
                           FF, 0.0)
    kpm = np.array([0, 0, 1, 0, 1], bool)
    run_both(am, tm, _x(rng, S, E), src_key_padding_mask=ardor.tensor(kpm),
             src_mask=ardor.tensor(_x(rng, S, S)), rtol=1e-4, atol=1e-5)
    ad, td = _pair_modules(torch.nn.TransformerDecoderLayer, nn.TransformerDecoderLayer, E, H,
                           FF, 0.0)
    run_both(ad, td, _x(rng, T, E), _x(rng, S, E), memory_key_padding_mask=ardor.tensor(kpm),
             tgt_key_padding_mask=ardor.tensor(kpm[:T]), rtol=1e-4, atol=1e-5)
    # (N, S, E) data given to a seq-first layer as a transposed (non-contiguous) view
    x = _x(rng, N, S, E)
    xa = ardor.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ao, to = am(xa.transpose(0, 1)), tm(xt.transpose(0, 1))
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), rtol=1e-4, atol=1e-5)
    w = _x(rng, S, N, E)
    (ao * ardor.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
