"""Shared fixtures: the repository's tiny models, the built libsdrt ($SDRT_LIBRARY, set by
run_tests.sh) and the C example built against it, whose images are the reference."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PKG))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TINY = os.path.join(FIXTURES, "tiny-sd2")
INPAINT = os.path.join(FIXTURES, "tiny-sd2-inpaint")
PREVIEW = os.path.join(FIXTURES, "tiny-sd2-preview")

sys.path.insert(0, PKG)

import sdrt  # noqa: E402


def library() -> str:
    lib = os.environ.get("SDRT_LIBRARY")
    if not lib or not os.path.isfile(lib):
        pytest.exit("set SDRT_LIBRARY to the built libsdrt (bindings/python/run_tests.sh does)",
                    returncode=2)
    return lib


def ort_library() -> str:
    lib = os.environ.get("SDRT_ORT_LIBRARY")
    if not lib:
        lib = subprocess.run(["bash", os.path.join(ROOT, "tools", "fetch_ort.sh")], check=True,
                             capture_output=True, text=True).stdout.strip()
        os.environ["SDRT_ORT_LIBRARY"] = lib
    return lib


@pytest.fixture(scope="session", autouse=True)
def runtime():
    sdrt.load_library(library())
    sdrt.init_runtime(ort_library())


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("build"))


def cc(build_dir: str, name: str, sources: list, extra: list = ()) -> str:
    """Compiles C `sources` against include/ and libsdrt into build_dir/name, as the README
    tells users to: -L<folder of libsdrt> -lsdrt and an rpath, nothing added beside the
    library (cargo's build makes the soname link the program loads by)."""
    lib_dir = os.path.dirname(os.path.abspath(library()))
    out = os.path.join(build_dir, name)
    cmd = [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror",
           "-I" + os.path.join(ROOT, "include"), *sources, "-o", out, "-L" + lib_dir,
           "-lsdrt", "-Wl,-rpath," + lib_dir, "-lm", "-lpthread", *extra]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stdout}{res.stderr}"
    return out


@pytest.fixture(scope="session")
def txt2img(build_dir):
    return cc(build_dir, "txt2img", [os.path.join(ROOT, "examples", "c", "txt2img.c")])


def write_pnm(path: str, image: sdrt.Image) -> str:
    with open(path, "wb") as f:
        f.write(image.to_ppm())
    return path


def read_ppm(path: str) -> sdrt.Image:
    data = open(path, "rb").read()
    fields, i = [], 0
    while len(fields) < 4:
        while data[i:i + 1].isspace():
            i += 1
        start = i
        while not data[i:i + 1].isspace():
            i += 1
        fields.append(data[start:i])
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    return sdrt.Image(w, h, data[i + 1:], "RGB")


@pytest.fixture(scope="session")
def c_reference(txt2img, tmp_path_factory):
    """c_reference(model, prefix, **args) runs the C example and returns its images."""
    out_dir = str(tmp_path_factory.mktemp("c-out"))

    def run(model: str, name: str, **args) -> list:
        count = int(args.get("count", 1))
        prefix = os.path.join(out_dir, name)
        cmd = [txt2img, model, prefix]
        for k, v in args.items():
            cmd += ["--" + k.replace("_", "-"), str(v)]
        env = dict(os.environ, SDRT_ORT_LIBRARY=ort_library())
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert res.returncode == 0, f"{cmd}\n{res.stdout}{res.stderr}"
        return [read_ppm(f"{prefix}-{i}.ppm") for i in range(count)]

    return run


@pytest.fixture(scope="session")
def tiny():
    with sdrt.Pipeline(TINY, provider="cpu") as pipe:
        yield pipe


@pytest.fixture(scope="session")
def inpaint():
    with sdrt.Pipeline(INPAINT, provider="cpu") as pipe:
        yield pipe


def pattern(width: int, height: int, mode: str = "RGB", stride_pad: int = 0) -> sdrt.Image:
    """A deterministic test picture (gradients and a checkerboard), optionally with padded
    rows; alpha varies so that ignoring it is tested."""
    ch = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            if mode == "L":
                row.append(255 if (x >= width // 4 and x < 3 * width // 4 and
                                   y >= height // 4 and y < 3 * height // 4) else 0)
                continue
            px = [(x * 255) // max(width - 1, 1), (y * 255) // max(height - 1, 1),
                  200 if ((x // 8) + (y // 8)) % 2 else 40]
            if ch == 4:
                px.append((x * 7 + y * 3) % 256)
            row += bytes(px)
        rows.append(bytes(row) + b"\x5a" * stride_pad)
    return sdrt.Image(width, height, b"".join(rows), mode, stride=width * ch + stride_pad)


def have_cc() -> bool:
    return shutil.which(os.environ.get("CC", "cc")) is not None
