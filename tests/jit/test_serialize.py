"""save/load: zip of JSON + raw weights; runs in a fresh process without the model class;
corrupt or tampered archives raise before anything runs."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit

from _jitmodels import example, pair_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL_SRC = textwrap.dedent('''
    import ardor
    import ardor.nn as nn
    import ardor.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Linear(4 * 4 * 4, 5)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
            return F.log_softmax(self.fc(x.flatten(1)), dim=-1) * 2.0 + 1.0
''')


def test_roundtrip_in_fresh_process_without_model_module(tmp_path):
    mod_dir = tmp_path / "defs"
    mod_dir.mkdir()
    (mod_dir / "jit_defining_module_xyz.py").write_text(MODEL_SRC)
    sys.path.insert(0, str(mod_dir))
    try:
        import jit_defining_module_xyz as defs
        ardor.manual_seed(0)
        net = defs.Net().eval()
    finally:
        sys.path.remove(str(mod_dir))
        sys.modules.pop("jit_defining_module_xyz", None)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    traced = jit.trace(net, (ardor.tensor(x),))
    path = tmp_path / "net.ardor"
    jit.save(traced, str(path))
    np.save(tmp_path / "x.npy", x)
    with ardor.no_grad():
        ref = net(ardor.tensor(x)).numpy()
    # in-process load as well
    loaded = jit.load(str(path))
    with ardor.no_grad():
        np.testing.assert_allclose(loaded(ardor.tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-6)
    code = textwrap.dedent(f'''
        import sys
        sys.modules["jit_defining_module_xyz"] = None   # importing it would fail
        import numpy as np, ardor, ardor.jit
        m = ardor.jit.load({str(path)!r})
        x = ardor.tensor(np.load({str(tmp_path / "x.npy")!r}))
        with ardor.no_grad():
            np.save({str(tmp_path / "y.npy")!r}, m(x).numpy())
    ''')
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ref, rtol=1e-5, atol=1e-6)


def _saved(tmp_path):
    am, _ = pair_model("mlp")
    x = ardor.tensor(example("mlp", np.random.default_rng(0)))
    path = str(tmp_path / "m.ardor")
    jit.save(jit.trace(am, (x,)), path)
    return path


def _rewrite(path, fn):
    with zipfile.ZipFile(path) as z:
        items = {n: z.read(n) for n in z.namelist()}
    items = fn(items)
    with zipfile.ZipFile(path, "w") as z:
        for k, v in items.items():
            z.writestr(k, v)


def _tamper_graph(items, edit, fix_hash=True):
    import hashlib
    doc = json.loads(items["graph.json"])
    edit(doc)
    items["graph.json"] = json.dumps(doc).encode()
    if fix_hash:  # an attacker who also rewrites the manifest
        man = json.loads(items["manifest.json"])
        man["files"]["graph.json"] = hashlib.sha256(items["graph.json"]).hexdigest()
        items["manifest.json"] = json.dumps(man).encode()
    return items


def _set_op(doc, op):
    next(n for n in doc["nodes"] if n["kind"] == "call")["op"] = op


CASES = {
    "flipped weight byte": (lambda it: {**it, "tensors/0.bin": bytes([it["tensors/0.bin"][0] ^ 1])
                                        + it["tensors/0.bin"][1:]}, "checksum"),
    "graph edited, manifest stale": (lambda it: _tamper_graph(
        it, lambda d: _set_op(d, "exp"), fix_hash=False), "checksum"),
    "unknown op": (lambda it: _tamper_graph(it, lambda d: _set_op(d, "__import__")),
                   "unknown op"),
    "dangling node": (lambda it: _tamper_graph(
        it, lambda d: d["nodes"][-1].update(args=[{"$node": "nope"}])), "undefined node"),
    "bad encoding": (lambda it: _tamper_graph(
        it, lambda d: d["nodes"][-1].update(args=[{"$pickle": "cos\nsystem\n"}])),
                     "unknown value encoding"),
    "extra member": (lambda it: {**it, "data.pkl": b"\x80\x04K\x01."}, "unexpected members"),
    "cycle": (lambda it: _tamper_graph(it, lambda d: d["nodes"].reverse()), "undefined node|output"),
    "shape mismatch": (lambda it: _tamper_graph(
        it, lambda d: d["tensors"][sorted(d["tensors"])[0]].update(shape=[999])), "bytes do not match"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_archives_raise_and_run_nothing(tmp_path, case):
    path = _saved(tmp_path)
    edit, msg = CASES[case]
    _rewrite(path, edit)
    with pytest.raises(jit.SerializationError, match=msg):
        jit.load(path)


def test_truncated_and_non_zip(tmp_path):
    path = _saved(tmp_path)
    data = open(path, "rb").read()
    for bad in (data[: len(data) // 2], b"not a zip at all", b""):
        with pytest.raises(jit.SerializationError):
            jit.load(io.BytesIO(bad))
    assert issubclass(jit.SerializationError, RuntimeError)


SCRIPT_SRC = textwrap.dedent('''
    import ardor
    import ardor.jit as jit

    @jit.script
    def walk(x, n: int, scale: float = 0.5):
        y = x
        for i in range(n):
            if y.sum() > 0:
                y = y * scale
            else:
                y = ardor.relu(y - 1.0) + y.shape[0]
        while y.abs().max() > 10.0:
            y = y / 2
        return y[:2]
''')


def _script_from_source(tmp_path, name="jit_script_defs_xyz"):
    mod_dir = tmp_path / "sdefs"
    mod_dir.mkdir(exist_ok=True)
    (mod_dir / f"{name}.py").write_text(SCRIPT_SRC)
    sys.path.insert(0, str(mod_dir))
    try:
        mod = __import__(name)
        return mod.walk
    finally:
        sys.path.remove(str(mod_dir))
        sys.modules.pop(name, None)


def test_scripted_function_roundtrip_keeps_control_flow(tmp_path):
    """A scripted function saves with its if/loop regions; the loaded one takes each branch
    and trip count as the original, in a process that cannot import the defining module."""
    walk = _script_from_source(tmp_path)
    path = str(tmp_path / "walk.ardor")
    jit.save(walk, path)
    cases = [(np.array([1.0, 2.0, 3.0], np.float32), (3,)),
             (np.array([-1.0, -2.0, -3.0], np.float32), (2,)),
             (np.array([40.0, -2.0, 3.0], np.float32), (1, 2.0))]
    loaded = jit.load(path)
    refs = []
    for a, extra in cases:
        ref = walk(ardor.tensor(a), *extra).numpy()
        refs.append(ref)
        np.testing.assert_array_equal(loaded(ardor.tensor(a), *extra).numpy(), ref)
    with pytest.raises(RuntimeError, match="Expected a value of type 'int'"):
        loaded(ardor.tensor(cases[0][0]), 2.5)
    np.save(tmp_path / "refs.npy", np.stack(refs))
    code = textwrap.dedent(f'''
        import sys
        sys.modules["jit_script_defs_xyz"] = None
        import numpy as np, ardor, ardor.jit
        g = ardor.jit.load({path!r})
        xs = [np.array([1.0, 2.0, 3.0], np.float32), np.array([-1.0, -2.0, -3.0], np.float32),
              np.array([40.0, -2.0, 3.0], np.float32)]
        out = [g(ardor.tensor(xs[0]), 3), g(ardor.tensor(xs[1]), 2), g(ardor.tensor(xs[2]), 1, 2.0)]
        np.save({str(tmp_path / "got.npy")!r}, np.stack([o.numpy() for o in out]))
    ''')
    r = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path),
                       env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "got.npy"), np.load(tmp_path / "refs.npy"))


def _set_pycall_fn(doc, fn):
    def walk_nodes(nodes):
        for n in nodes:
            if n["kind"] == "pycall":
                n["attrs"]["$dict"] = [[k, fn if k == "fn" else v] for k, v in n["attrs"]["$dict"]]
                return True
            for sub in (n.get("subgraphs") or {}).values():
                if walk_nodes(sub["nodes"]):
                    return True
        return False
    assert walk_nodes(doc["nodes"])


@pytest.mark.parametrize("fn", ["builtin:eval", "operator:call", "ardor:ardor.save",
                                "method:__class__", "os:system"])
def test_scripted_archive_names_only_whitelisted_callables(tmp_path, fn):
    walk = _script_from_source(tmp_path)
    path = str(tmp_path / "walk.ardor")
    jit.save(walk, path)
    _rewrite(path, lambda it: _tamper_graph(it, lambda d: _set_pycall_fn(d, fn)))
    with pytest.raises(jit.SerializationError, match="not among the callables"):
        jit.load(path)


class _NotScriptable(ardor.nn.Module):
    def forward(self, x):
        return [v for v in x][0]


def test_scripted_module_saves_compiled_submodules_but_not_python_calls(tmp_path):
    """A submodule's forward is compiled into the graph (saved); one that cannot be
    scripted stays a Python call, and save names it."""
    class M(ardor.nn.Module):
        def __init__(self, odd=None):
            super().__init__()
            self.fc = ardor.nn.Linear(3, 2)
            self.odd = odd

        def forward(self, x):
            if self.odd is not None:
                x = self.odd(x)
            return self.fc(x)
    m = M()
    jit.save(jit.script(m), str(tmp_path / "m.ardor"))
    x = ardor.ones(2, 3)
    np.testing.assert_array_equal(jit.load(str(tmp_path / "m.ardor"))(x).detach().numpy(),
                                  m(x).detach().numpy())
    with pytest.raises(ValueError, match=r"call of self\.odd \(_NotScriptable\).*ListComp"
                                         r".*submodule or a Python function"):
        jit.save(jit.script(M(_NotScriptable())), str(tmp_path / "m2.ardor"))


def test_training_mode_batchnorm_saves_and_loads(tmp_path):
    # num_batches_tracked is a 0-d buffer (it was saved as shape (1,) and refused on load);
    # a loaded training-mode graph keeps updating the running stats, as the module does
    ardor.manual_seed(0)
    m = ardor.nn.Sequential(ardor.nn.Linear(4, 8), ardor.nn.BatchNorm1d(8)).train()
    x = ardor.randn(6, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = jit.trace(m, (x,), check_trace=False)
    jit.save(t, str(tmp_path / "bn.ardor"))
    loaded = jit.load(str(tmp_path / "bn.ardor"))
    sd0 = {k: v.detach().numpy().copy() for k, v in loaded.state_dict().items()}
    assert sd0["1.num_batches_tracked"].shape == ()
    with ardor.no_grad():
        got = loaded(x).numpy()
        want = m(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    sd1 = loaded.state_dict()
    assert int(sd1["1.num_batches_tracked"]) == int(sd0["1.num_batches_tracked"]) + 1
    np.testing.assert_allclose(sd1["1.running_mean"].numpy(),
                               m.state_dict()["1.running_mean"].numpy(), rtol=1e-6)


def test_save_methods_of_traced_and_scripted_objects(tmp_path):
    # torch's m.save(path) / m.save_to_buffer(), original_name and inlined_graph
    lin = ardor.nn.Linear(3, 2)
    tlin = torch.nn.Linear(3, 2)
    x = ardor.randn(4, 3)

    def f(a):
        return a * 2 + 1
    objs = {"traced module": jit.trace(lin, (x,)), "scripted module": jit.script(lin),
            "traced function": jit.trace(f, (x,)), "scripted function": jit.script(f)}
    for name, o in objs.items():
        o.save(str(tmp_path / "m.ardor"))
        for loaded in (jit.load(str(tmp_path / "m.ardor")),
                       jit.load(io.BytesIO(o.save_to_buffer()))):
            np.testing.assert_array_equal(loaded(x).detach().numpy(), o(x).detach().numpy(),
                                          err_msg=name)
        assert o.inlined_graph is o.graph
    assert objs["traced module"].original_name == objs["scripted module"].original_name \
        == torch.jit.trace(tlin, (torch.randn(4, 3),)).original_name == "Linear"
    assert objs["scripted function"].original_name == "f"
