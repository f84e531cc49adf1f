#!/usr/bin/env python3
"""Builds the sdrt wheel with libsdrt inside it.

    python3 bindings/python/build_wheel.py [--lib PATH] [--with-ort PATH] [--out DIR]
                                           [--no-isolation]

Without --lib it runs `cargo build --release --lib` and takes the library from the cargo
target folder ($CARGO_TARGET_DIR or target/). The package is staged in a temporary folder
with the library next to it, so the source tree stays clean, and `pip wheel` builds it
there: the result is tagged py3-none-<platform> (see setup.py). --with-ort copies an ONNX
Runtime library next to libsdrt, where sdrt looks for it. Prints the wheel's path.
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from sdrt._native import library_file_name  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", help="a built libsdrt (default: cargo build --release)")
    ap.add_argument("--with-ort", help="an ONNX Runtime library to carry next to libsdrt")
    ap.add_argument("--out", default=None, help="output folder (default: <target>/wheels)")
    ap.add_argument("--no-isolation", action="store_true",
                    help="build with the setuptools of this Python (no download)")
    args = ap.parse_args()

    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    lib = args.lib
    if lib is None:
        subprocess.run(["cargo", "build", "--release", "--lib", "--locked"], cwd=ROOT,
                       check=True, stdout=sys.stderr)
        lib = os.path.join(target, "release", library_file_name())
    if not os.path.isfile(lib):
        sys.exit(f"build_wheel.py: {lib} does not exist")
    out = os.path.abspath(args.out or os.path.join(target, "wheels"))
    os.makedirs(out, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="sdrt-wheel-") as stage:
        for name in ("pyproject.toml", "setup.py", "README.md"):
            shutil.copy(os.path.join(HERE, name), stage)
        shutil.copytree(os.path.join(HERE, "sdrt"), os.path.join(stage, "sdrt"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "libsdrt*",
                                                      "sdrt.dll", "libonnxruntime*"))
        shutil.copy(lib, os.path.join(stage, "sdrt", library_file_name()))
        if args.with_ort:
            real = os.path.realpath(args.with_ort)
            # sdrt looks for libonnxruntime.so (.dylib) in its own folder.
            link_name = os.path.basename(args.with_ort)
            shutil.copy(real, os.path.join(stage, "sdrt", link_name))
        cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
               "--disable-pip-version-check", "-w", out, stage]
        if args.no_isolation:
            cmd.insert(4, "--no-build-isolation")
        before = set(glob.glob(os.path.join(out, "sdrt-*.whl")))
        subprocess.run(cmd, check=True, stdout=sys.stderr)
        wheels = sorted(set(glob.glob(os.path.join(out, "sdrt-*.whl"))) - before) or \
            sorted(glob.glob(os.path.join(out, "sdrt-*.whl")), key=os.path.getmtime)[-1:]
    if not wheels:
        sys.exit("build_wheel.py: pip wrote no wheel")
    print(wheels[-1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
