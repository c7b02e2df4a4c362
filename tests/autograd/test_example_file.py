"""examples/autograd_basics.py runs and prints what the same file prints under torch."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "autograd_basics.py"


def _run(source: str) -> str:
    out = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    text = re.sub(r"0x[0-9a-f]+", "0x", out.stdout)
    return text.replace("torch", "LIB").replace("ardor", "LIB")


def test_example_output_matches_torch():
    src = EXAMPLE.read_text()
    assert "import ardor as torch" in src
    ours = _run(src.replace('if __name__ == "__main__":', "if True:"))
    theirs = _run(src.replace("import ardor as torch", "import torch")
                  .replace('if __name__ == "__main__":', "if True:"))
    assert ours == theirs
    assert "gradcheck: True" in ours


def test_custom_sigmoid_gradient_equals_composite():
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        import autograd_basics
    finally:
        sys.path.pop(0)
    custom, composite = autograd_basics.custom_sigmoid()
    assert custom.tolist() == composite.tolist() or \
        max(abs(a - b) for a, b in zip(custom.tolist(), composite.tolist())) < 1e-12
    w, x, a = autograd_basics.seed_example()
    assert (w.tolist(), x.tolist(), a.tolist()) == ([5.0], [2.0], [2.0])
