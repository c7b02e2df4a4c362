"""save/load: zip of JSON + raw weights; runs in a fresh process without the model class;
corrupt or tampered archives raise before anything runs."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
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
