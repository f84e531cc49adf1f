"""The binding inside an interpreter a host application owns: embed_host.c embeds Python
(isolated config), generates through the binding on a worker thread while its main thread
keeps ticking (taking the GIL each tick), then finalizes the interpreter, with a pipeline
left open for the binding's exit finalizer; twice, with a new interpreter in the same
process. Nothing may reach stdout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest
from conftest import HERE, PKG, TINY, ort_library, read_ppm


def python_config() -> str | None:
    """The python3-config of the interpreter running the tests (so that the embedded one
    has the same version), else the one on PATH."""
    version = sysconfig.get_config_var("VERSION")
    bindir = os.path.dirname(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    for name in (f"python{version}-config", "python3-config"):
        for cand in (os.path.join(bindir, name), shutil.which(name)):
            if cand and os.path.isfile(cand):
                return cand
    return None


def test_embedded_interpreter_on_a_worker_thread(build_dir, tmp_path, tiny):
    if os.environ.get("SDRT_TEST_PYTHON_EMBED") == "0":
        pytest.skip("SDRT_TEST_PYTHON_EMBED=0")
    config = python_config()
    # Not a silent skip: without python3-config this test cannot run, and says so.
    assert config is not None, (
        "python3-config not found: apt-get install python3-dev (tools/test.sh does when it "
        "can), or set SDRT_TEST_PYTHON_EMBED=0 to skip the embedded-interpreter test")
    flags = subprocess.run([config, "--includes"], capture_output=True, text=True,
                           check=True).stdout.split()
    libs = subprocess.run([config, "--embed", "--ldflags"], capture_output=True, text=True,
                          check=True).stdout.split()
    exe = os.path.join(build_dir, "embed_host")
    cmd = [os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror",
           "-D_POSIX_C_SOURCE=200809L", *flags, os.path.join(HERE, "embed_host.c"), "-o",
           exe, *libs, "-lpthread"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, f"{' '.join(cmd)}\n{res.stderr}"

    out = tmp_path / "embedded.ppm"
    env = dict(os.environ, SDRT_ORT_LIBRARY=ort_library())
    res = subprocess.run([exe, PKG, TINY, str(out)], capture_output=True, env=env,
                         timeout=300)
    err = res.stderr.decode(errors="replace")
    assert res.returncode == 0, err
    assert res.stdout == b"", "something wrote to stdout"
    reports = [dict(re.findall(r"(\w+)=([\d.-]+)", line))
               for line in err.splitlines() if line.startswith("cycle=")]
    assert [r["cycle"] for r in reports] == ["1", "2"], err
    for report in reports:
        # More ticks than steps: the UI thread ran while sdrt computed, not only while the
        # worker was in its step callbacks.
        assert int(report["steps"]) == 20 and int(report["during"]) > 20, report
        assert int(report["finalize"]) == 0, report
    # The embedded generate gave the image of the same call made here.
    want = tiny.generate("a lighthouse", width=256, height=256, steps=20, seed=42,
                         scheduler="euler")[0]
    assert read_ppm(str(out)).pixels == want.pixels
    sys.stderr.write("embed_host: " + " | ".join(line for line in err.splitlines()
                                               if line.startswith("cycle=")) + "\n")
