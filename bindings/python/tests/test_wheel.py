"""The wheel: build_wheel.py packs the built libsdrt (and ONNX Runtime) into a
platform-tagged wheel; installed into a fresh venv, with no SDRT_* variable set, it finds
both next to the package and generates the same image as the source tree's binding."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from conftest import PKG, TINY, library, ort_library

import sdrt

SCRIPT = """
import os, sys, sdrt
assert not any(k.startswith(("SDRT_", "ORT_")) for k in os.environ), "env leaked"
with sdrt.Pipeline(sys.argv[1], provider="cpu") as pipe:
    img = pipe.generate("a lighthouse", steps=5, seed=3)[0]
with open(sys.argv[2], "wb") as f:
    f.write(img.pixels)
with open(sys.argv[3], "w") as f:
    f.write(sdrt.library_path() + "\\n" + sdrt.ort_version() + "\\n" + sdrt.__file__)
"""


def test_wheel_installs_and_generates(tmp_path, tiny):
    out = tmp_path / "wheels"
    res = subprocess.run(
        [sys.executable, os.path.join(PKG, "build_wheel.py"), "--no-isolation",
         "--lib", library(), "--with-ort", ort_library(), "--out", str(out)],
        capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    wheel = res.stdout.strip()
    name = os.path.basename(wheel)
    # The wheel's version is the package's (pyproject.toml reads sdrt.__version__).
    assert name.startswith(f"sdrt-{sdrt.__version__}-py3-none-"), name
    assert not name.endswith("-any.whl"), name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    lib_name = os.path.basename(library())
    assert f"sdrt/{lib_name}" in names and "sdrt/__init__.py" in names
    assert any(n.startswith("sdrt/libonnxruntime") for n in names), names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    # The source tree stays clean.
    assert not os.path.exists(os.path.join(PKG, "sdrt", lib_name))
    assert not os.path.exists(os.path.join(PKG, "build"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--no-index", "--no-deps", wheel], check=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SDRT_", "ORT_", "PYTHON", "LD_LIBRARY"))}
    script = tmp_path / "use.py"
    script.write_text(SCRIPT)
    pixels, where = tmp_path / "pixels", tmp_path / "where"
    res = subprocess.run([py, str(script), TINY, str(pixels), str(where)], cwd=str(tmp_path),
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    lib_path, ort_version, init = where.read_text().split("\n")
    assert lib_path.startswith(str(venv)) and init.startswith(str(venv))
    assert ort_version == "1.31.1"
    assert pixels.read_bytes() == tiny.generate("a lighthouse", steps=5, seed=3)[0].pixels
