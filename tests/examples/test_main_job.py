"""The main job in a reduced form: it trains, evaluates, checkpoints, and resumes exactly."""
import subprocess
import sys
from pathlib import Path

import numpy as np

import ardor

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, cwd):
    out = subprocess.run([sys.executable, "-m", "ardor.examples.train", "--no-progress", *args],
                         capture_output=True, text=True, timeout=600, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_one_epoch_reaches_accuracy_bound(tmp_path):
    out = _run("--epochs", "1", "--limit", "4000", "--out", str(tmp_path), cwd=ROOT)
    acc = float(out.split("test accuracy")[1].split()[0])
    assert acc > 0.85, out  # one epoch over 4 000 images; the full default run gives >97%
    assert (tmp_path / "digits_cnn.pt").exists() and "saved to" in out


def test_resume_equals_uninterrupted_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    common = ("--limit", "640", "--batch-size", "64")
    _run("--epochs", "2", "--out", str(a), *common, cwd=ROOT)
    _run("--epochs", "1", "--out", str(b), *common, cwd=ROOT)
    _run("--epochs", "2", "--out", str(b), "--resume", str(b / "digits_cnn.pt"), *common,
         cwd=ROOT)
    sa = ardor.load(a / "digits_cnn.pt")
    sb = ardor.load(b / "digits_cnn.pt")
    assert sa["epoch"] == sb["epoch"] == 2
    for k, v in sa["model"].items():
        np.testing.assert_array_equal(v.numpy(), sb["model"][k].numpy())
    for i, st in sa["optimizer"]["state"].items():
        np.testing.assert_array_equal(st["exp_avg"].numpy(),
                                      sb["optimizer"]["state"][i]["exp_avg"].numpy())
