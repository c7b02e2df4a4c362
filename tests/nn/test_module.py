"""nn.Module behaviour compared with torch: registration, naming, state_dict, hooks, ..."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
from tests.nn._nnutil import load_from_torch, norm_msg


def build(lib):
    """The same small model in torch and ardor (shared submodule, buffers, None param)."""
    class Block(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = lib.nn.Linear(4, 3)
            self.act = lib.nn.ReLU()
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.register_parameter("extra", None)
            self.scale = lib.nn.Parameter(lib.ones(1))

        def forward(self, x):
            return self.act(self.fc(x)) * self.scale + self.running

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.b1 = Block()
            self.seq = lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.Tanh())
            self.shared = self.seq[0]
            self.head = lib.nn.Linear(3, 2)

        def forward(self, x):
            return self.head(self.seq(self.b1(x)))
    return Net()


def test_names_ordering_and_state_dict_keys():
    a, t = build(ardor), build(torch)
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in a.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in a.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in a.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in a.named_modules(remove_duplicate=False)] == \
        [n for n, _ in t.named_modules(remove_duplicate=False)]
    assert [n for n, _ in a.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in a.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert [n for n, _ in a.b1.named_parameters(recurse=False)] == \
        [n for n, _ in t.b1.named_parameters(recurse=False)]
    sa, st = a.state_dict(), t.state_dict()
    assert list(sa.keys()) == list(st.keys())
    assert isinstance(sa, OrderedDict)
    assert list(sa._metadata.keys()) == list(st._metadata.keys())
    assert sa._metadata[""] == st._metadata[""]
    assert not sa["head.weight"].requires_grad and sa["head.weight"].grad_fn is None
    assert a.state_dict(keep_vars=True)["head.weight"] is a.head.weight
    assert list(a.state_dict(prefix="p.").keys()) == list(t.state_dict(prefix="p.").keys())
    assert len(list(a.parameters())) == len(list(t.parameters()))
    assert len(list(a.buffers())) == len(list(t.buffers()))
    assert len(list(a.children())) == len(list(t.children()))
    assert len(list(a.modules())) == len(list(t.modules()))
    assert repr(a) == repr(t)


def test_forward_and_grads_after_loading():
    a, t = build(ardor), build(torch)
    load_from_torch(a, t)
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    ya, yt = a(ardor.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    ya.sum().backward(), yt.sum().backward()
    ga = {n: p.grad for n, p in a.named_parameters()}
    for n, p in t.named_parameters():
        np.testing.assert_allclose(ga[n].numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_copies_in_place_and_errors():
    a, t = ardor.nn.Linear(4, 2), torch.nn.Linear(4, 2)
    w = a.weight
    v0 = w._version
    sd = {"weight": ardor.ones(2, 4), "bias": ardor.zeros(2)}
    res = a.load_state_dict(sd)
    assert a.weight is w and np.all(w.detach().numpy() == 1) and w.requires_grad
    assert repr(res) == "<All keys matched successfully>" and res.missing_keys == []
    # size mismatch, missing and unexpected keys: same text as torch
    for bad in ({"weight": (3, 4), "bias": (2,)}, {"weight": (2, 4)},
                {"weight": (2, 4), "bias": (2,), "extra": (1,)},
                {"weight": (3, 4), "extra.w": (1,)}):
        with pytest.raises(RuntimeError) as te:
            t.load_state_dict({k: torch.zeros(s) for k, s in bad.items()})
        with pytest.raises(RuntimeError) as ae:
            a.load_state_dict({k: ardor.zeros(s) for k, s in bad.items()})
        assert norm_msg(ae.value) == norm_msg(te.value)
    r_t = t.load_state_dict({"weight": torch.zeros(2, 4), "x": torch.zeros(1)}, strict=False)
    r_a = a.load_state_dict({"weight": ardor.zeros(2, 4), "x": ardor.zeros(1)}, strict=False)
    assert r_a.missing_keys == r_t.missing_keys and r_a.unexpected_keys == r_t.unexpected_keys
    assert repr(r_a) == repr(r_t)
    with pytest.raises(TypeError):
        a.load_state_dict([1, 2])
    # assign=True replaces the parameter objects, keeping requires_grad
    new_w = ardor.full((2, 4), 3.0)
    a.load_state_dict({"weight": new_w, "bias": ardor.zeros(2)}, assign=True)
    assert a.weight is not w and isinstance(a.weight, nn.Parameter) and a.weight.requires_grad
    # load into a 0-d buffer from a 1-element tensor, and dtype casting on copy
    m = nn.Module()
    m.register_buffer("n", ardor.tensor(0, dtype=ardor.int64))
    m.load_state_dict({"n": ardor.tensor([5.0])})
    assert m.n.item() == 5 and m.n.dtype is ardor.int64


def test_setattr_getattr_delattr_errors():
    a, t = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    for val in (3, torch.zeros(2)):
        with pytest.raises(TypeError) as te:
            t.weight = val
        with pytest.raises(TypeError) as ae:
            a.weight = ardor.zeros(2) if isinstance(val, torch.Tensor) else val
        assert norm_msg(ae.value) == norm_msg(te.value)
    with pytest.raises(AttributeError) as te:
        t.foo
    with pytest.raises(AttributeError) as ae:
        a.foo
    assert str(ae.value) == str(te.value) == "'Linear' object has no attribute 'foo'"
    seq_a, seq_t = nn.Sequential(nn.ReLU()), torch.nn.Sequential(torch.nn.ReLU())
    with pytest.raises(TypeError) as te:
        seq_t[0] = 5
    with pytest.raises(TypeError) as ae:
        seq_a[0] = 5
    assert str(ae.value) == str(te.value)
    m = nn.Module()
    m.register_buffer("b", ardor.zeros(2))
    with pytest.raises(TypeError) as ae:
        m.b = 5
    tm = torch.nn.Module()
    tm.register_buffer("b", torch.zeros(2))
    with pytest.raises(TypeError) as te:
        tm.b = 5
    assert norm_msg(ae.value) == norm_msg(te.value)
    m.b = None
    assert m.b is None and "b" in m._buffers
    for bad, exc in (("a.b", KeyError), ("", KeyError), (3, TypeError)):
        with pytest.raises(exc):
            m.register_parameter(bad, None)
        with pytest.raises(exc):
            m.register_buffer(bad, None)
    with pytest.raises(KeyError):
        m.register_buffer("training", None)
    with pytest.raises(TypeError):
        m.register_parameter("p", ardor.zeros(2))
    with pytest.raises(TypeError):
        m.register_parameter("p", nn.Parameter(ardor.zeros(2)) * 2)  # ops give plain Tensors
    with pytest.raises(TypeError):
        m.add_module("x", 3)
    with pytest.raises(AttributeError):
        class Bad(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(ardor.zeros(1))
        Bad()
    # reassigning moves between dicts; delattr removes
    m.x = 3
    m.x = nn.Parameter(ardor.zeros(1))
    assert "x" in m._parameters and "x" not in m.__dict__
    with pytest.raises(TypeError):
        m.x = nn.ReLU()
    del m.x
    m.x = nn.ReLU()
    assert "x" in m._modules and "x" not in m._parameters
    del m.x
    assert not hasattr(m, "x")
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    with pytest.raises(TypeError):
        nn.Module(foo=1)


def test_buffer_and_parameter_classes():
    p = nn.Parameter(ardor.tensor([1.0, 2.0]))
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p) == repr(tp).replace("torch", "ardor") or repr(p).startswith(
        "Parameter containing:\ntensor([1., 2.], requires_grad=True)")
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert isinstance(p, ardor.Tensor) and p.requires_grad and p.is_leaf
    assert type(p * 2) is ardor.Tensor
    assert not nn.Parameter(ardor.zeros(2), requires_grad=False).requires_grad
    assert tuple(nn.Parameter().shape) == (0,)
    with pytest.raises(RuntimeError):
        nn.Parameter(ardor.tensor([1, 2]))
    m, tm = nn.Module(), torch.nn.Module()
    m.buf = nn.Buffer(ardor.zeros(3), persistent=False)
    tm.buf = torch.nn.Buffer(torch.zeros(3), persistent=False)
    m.pbuf = nn.Buffer(ardor.zeros(1))
    tm.pbuf = torch.nn.Buffer(torch.zeros(1))
    assert list(m._buffers) == list(tm._buffers) == ["buf", "pbuf"]
    assert list(m.state_dict()) == list(tm.state_dict()) == ["pbuf"]
    assert isinstance(m.buf, nn.Buffer) and not isinstance(ardor.zeros(1), nn.Buffer)
    pc = copy.deepcopy(p)
    assert type(pc) is nn.Parameter and pc is not p and pc.requires_grad
    pp = pickle.loads(pickle.dumps(p))
    assert type(pp) is nn.Parameter and np.all(pp.detach().numpy() == [1, 2])


def test_train_eval_requires_grad_zero_grad_apply():
    a = build(ardor)
    assert a.training and a.b1.training
    a.eval()
    assert not a.training and not a.b1.act.training
    a.train()
    assert a.seq[1].training
    with pytest.raises(ValueError):
        a.train("yes")
    a.requires_grad_(False)
    assert not any(p.requires_grad for p in a.parameters())
    a.requires_grad_()
    a(ardor.randn(2, 4)).sum().backward()
    assert all(p.grad is not None for p in a.parameters())
    a.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in a.parameters())
    a.zero_grad()
    assert all(p.grad is None for p in a.parameters())
    seen = []
    assert a.apply(lambda m: seen.append(type(m).__name__)) is a
    t = build(torch)
    tseen = []
    t.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen


def test_to_double_float_keep_parameter_identity():
    a = build(ardor)
    w = a.head.weight
    a(ardor.randn(2, 4)).sum().backward()
    assert a.double() is a
    assert a.head.weight is w and w.dtype is ardor.float64 and w.grad.dtype is ardor.float64
    assert a.b1.running.dtype is ardor.float64
    a.to(ardor.float32)
    assert w.dtype is ardor.float32
    a.to("cpu").cpu().half().float()
    assert w.dtype is ardor.float32 and a.head.weight is w
    a.type(ardor.float64)
    assert w.dtype is ardor.float64
    m = nn.Module()
    m.register_buffer("i", ardor.tensor([1, 2]))
    m.double()
    assert m.i.dtype is ardor.int64
    with pytest.raises(TypeError):
        a.to(ardor.int64)
    y = a.float()(ardor.randn(3, 4))
    assert y.dtype is ardor.float32


def test_forward_hooks_order_and_arguments():
    log = {"a": [], "t": []}

    def make(lib, key):
        m = lib.nn.Linear(2, 2)
        hs = []
        hs.append(m.register_forward_pre_hook(lambda mod, args: log[key].append(
            ("pre", len(args)))))
        hs.append(m.register_forward_pre_hook(lambda mod, args, kw: log[key].append(
            ("pre_kw", sorted(kw))), with_kwargs=True))
        hs.append(m.register_forward_pre_hook(lambda mod, args: log[key].append("first"),
                                              prepend=True))
        hs.append(m.register_forward_hook(lambda mod, args, out: log[key].append(
            ("fwd", tuple(out.shape)))))
        hs.append(m.register_forward_hook(lambda mod, args, kw, out: log[key].append(
            ("fwd_kw", sorted(kw))), with_kwargs=True))
        return m, hs
    am, ah = make(ardor, "a")
    tm, th = make(torch, "t")
    am(ardor.zeros(3, 2)), tm(torch.zeros(3, 2))
    assert log["a"] == log["t"]
    ah[0].remove(), th[0].remove()
    am(ardor.zeros(3, 2)), tm(torch.zeros(3, 2))
    assert log["a"] == log["t"]
    # hooks may replace inputs and outputs
    m = nn.Linear(2, 2)
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    m.register_forward_hook(lambda mod, args, out: out + 1)
    y = m(ardor.ones(1, 2))
    np.testing.assert_allclose(y.detach().numpy(), (m.bias.detach().numpy() + 1)[None])
    with nn.Linear(2, 2).register_forward_hook(lambda *a: None) as h:
        assert h.id is not None


def test_always_call_hook_runs_on_exception():
    calls = []
    m = nn.Linear(2, 2)
    m.register_forward_hook(lambda mod, args, out: calls.append("always"), always_call=True)
    m.register_forward_hook(lambda mod, args, out: calls.append("normal"))
    with pytest.raises(RuntimeError):
        m(ardor.zeros(3, 5))
    assert calls == ["always"]


def test_global_forward_hooks():
    calls = []
    h = nn.register_module_forward_hook(lambda m, a, o: calls.append(type(m).__name__))
    try:
        nn.Sequential(nn.ReLU())(ardor.zeros(2))
    finally:
        h.remove()
    nn.ReLU()(ardor.zeros(2))
    assert calls == ["ReLU", "Sequential"]


@pytest.mark.parametrize("input_grad", [True, False])
def test_full_backward_hooks_match_torch(input_grad):
    rec = {"a": [], "t": []}

    def setup(lib, key):
        m = lib.nn.Linear(3, 2)

        def pre(mod, gout):
            rec[key].append(("pre", [None if g is None else g.detach().numpy().copy()
                                     for g in gout]))

        def hook(mod, gin, gout):
            rec[key].append(("hook", [None if g is None else g.detach().numpy().copy()
                                      for g in gin],
                             [g.detach().numpy().copy() for g in gout]))
        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(hook)
        return m
    am, tm = setup(ardor, "a"), setup(torch, "t")
    load_from_torch(am, tm)
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    ax, tx = ardor.tensor(x, requires_grad=input_grad), torch.tensor(x, requires_grad=input_grad)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (am(ax) * 2).sum().backward()
        (tm(tx) * 2).sum().backward()
    assert [r[0] for r in rec["a"]] == [r[0] for r in rec["t"]]
    for ra, rt in zip(rec["a"], rec["t"]):
        for la, lt in zip(ra[1:], rt[1:]):
            assert len(la) == len(lt)
            for ga, gt in zip(la, lt):
                assert (ga is None) == (gt is None)
                if ga is not None:
                    np.testing.assert_allclose(ga, gt, rtol=1e-5, atol=1e-6)


def test_backward_hook_can_replace_grad_input():
    m = nn.Linear(3, 2)
    m.register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 0,))
    x = ardor.randn(4, 3, requires_grad=True)
    m(x).sum().backward()
    assert np.all(x.grad.numpy() == 0)
    with pytest.raises(RuntimeError):
        m.register_backward_hook(lambda *a: None)


def test_state_dict_hooks():
    calls = []
    m = nn.Sequential(nn.Linear(2, 2))
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append(("pre", prefix)))
    m[0].register_state_dict_pre_hook(lambda mod, prefix, keep: calls.append(("pre0", prefix)))

    def post(mod, sd, prefix, meta):
        sd[prefix + "added"] = ardor.zeros(1)
    h = m._register_state_dict_hook(post)
    sd = m.state_dict()
    assert calls == [("pre", ""), ("pre0", "0.")]
    assert list(sd) == ["0.weight", "0.bias", "added"]
    h.remove()
    m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: None)
    assert list(m.state_dict()) == ["0.weight", "0.bias"]
    got = []
    m.register_load_state_dict_post_hook(lambda mod, keys: got.append(list(keys.missing_keys)))
    m.load_state_dict({"0.weight": ardor.zeros(2, 2)}, strict=False)
    assert got == [["0.bias"]]
    pre = []
    m[0].register_load_state_dict_pre_hook(lambda mod, sd, prefix, *rest: pre.append(prefix))
    m.load_state_dict(m.state_dict())
    assert pre == ["0."]


def test_submodule_accessors_dir_deepcopy_pickle():
    a = build(ardor)
    assert a.get_submodule("seq.0") is a.seq[0]
    assert a.get_parameter("b1.fc.weight") is a.b1.fc.weight
    assert a.get_buffer("b1.running") is a.b1.running
    with pytest.raises(AttributeError):
        a.get_submodule("nope")
    with pytest.raises(AttributeError):
        a.get_parameter("b1.running")
    a.set_submodule("seq.1", nn.ReLU())
    assert isinstance(a.seq[1], nn.ReLU)
    d = dir(a.b1)
    for k in ("fc", "running", "scale", "forward", "training"):
        assert k in d
    c = copy.deepcopy(a)
    assert c.head.weight is not a.head.weight
    np.testing.assert_array_equal(c.head.weight.detach().numpy(), a.head.weight.detach().numpy())
    assert c.shared is c.seq[0]          # sharing preserved
    assert [n for n, _ in c.named_parameters()] == [n for n, _ in a.named_parameters()]
    p = pickle.loads(pickle.dumps(nn.Sequential(nn.Linear(2, 3), nn.ReLU())))
    assert repr(p) == "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n" \
                      "  (1): ReLU()\n)"
    y = p(ardor.ones(1, 2))
    assert tuple(y.shape) == (1, 3)


def test_repr_nested_and_extra_repr():
    def mk(lib):
        class Custom(lib.nn.Module):
            def extra_repr(self):
                return "a=1\nb=2"
        s = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.Sequential(
            lib.nn.ReLU(), lib.nn.ModuleList([lib.nn.Linear(3, 3)] * 3 + [lib.nn.Tanh()])),
            Custom())
        s.add_module("named", lib.nn.ModuleDict({"x": lib.nn.Identity()}))
        return s
    assert repr(mk(ardor)) == repr(mk(torch))
    assert repr(nn.Module()) == "Module()"
    with pytest.raises(NotImplementedError):
        nn.Module()(1)


def test_full_backward_hooks_tuple_outputs_and_non_grad_inputs():
    import warnings

    def run(L):
        class M(L.nn.Module):
            def forward(self, a, b, c=None):
                return a * 2, (a * b).sum(1), 3
        m, rec = M(), []
        m.register_full_backward_pre_hook(lambda mod, go: rec.append(
            [None if g is None else g.detach().numpy().copy() for g in go]))
        m.register_full_backward_hook(lambda mod, gi, go: rec.append(
            [None if g is None else g.detach().numpy().copy() for g in gi + go]))
        x = np.arange(6.0).reshape(2, 3)
        a, b = L.tensor(x, requires_grad=True), L.tensor(x + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            o1, o2, _ = m(a, b, 5)
            (o1.sum() + o2.sum() * 3).backward()
        return rec
    ra, rt = run(ardor), run(torch)
    assert len(ra) == len(rt) == 2
    for la, lt in zip(ra, rt):
        assert [g is None for g in la] == [g is None for g in lt]
        for ga, gt in zip(la, lt):
            if gt is not None:
                np.testing.assert_allclose(ga, gt)


def test_legacy_backward_hook_and_global_full_backward_hook():
    import warnings
    tm = torch.nn.Linear(3, 2)
    am = load_from_torch(nn.Linear(3, 2), tm)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, m, L in (("a", am, ardor), ("t", tm, torch)):
            rec = []
            m.register_backward_hook(lambda mod, gi, go, rec=rec: rec.append(
                ([None if g is None else tuple(g.shape) for g in gi],
                 [tuple(g.shape) for g in go])))
            m(L.ones(4, 3, requires_grad=True)).sum().backward()
            out[name] = rec
        assert out["a"] == out["t"]
        calls = {"a": [], "t": []}
        for name, L in (("a", ardor), ("t", torch)):
            h = L.nn.modules.module.register_module_full_backward_hook(
                lambda mod, gi, go, name=name: calls[name].append(type(mod).__name__))
            try:
                s = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.Tanh())
                s(L.ones(2, 3, requires_grad=True)).sum().backward()
            finally:
                h.remove()
        assert calls["a"] == calls["t"] == ["Tanh", "Linear", "Sequential"]
