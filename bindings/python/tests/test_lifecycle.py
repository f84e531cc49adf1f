"""The context manager (and close, and garbage collection) frees the pipeline exactly once;
logging goes to the "sdrt" logger or a per-pipeline callable; nothing is ever written to
stdout or stderr by the package."""

from __future__ import annotations

import gc
import logging
import os
import re
import subprocess
import sys

import pytest
from conftest import PKG, TINY, ort_library

import sdrt
from sdrt import _native as n


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.fixture
def frees(monkeypatch):
    """Records every sdrt_pipeline_free call (and still frees)."""
    lib = n.lib()
    real = lib.sdrt_pipeline_free
    calls = []

    def record(ptr):
        calls.append(ptr)
        real(ptr)

    monkeypatch.setattr(lib, "sdrt_pipeline_free", record)
    return calls


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_context_manager_frees(frees):
    before = threads()
    with sdrt.Pipeline(TINY, provider="cpu", intra_op_threads=3) as pipe:
        ptr = pipe._h.ptr
        pipe.generate("x", steps=2)
        assert threads() > before, "ONNX Runtime's per-session pools should be running"
        assert frees == []
    assert frees == [ptr] and pipe.closed
    # The pipeline's ONNX Runtime threads are gone with it.
    assert threads() == before
    with pytest.raises(ValueError, match="closed"):
        pipe.generate("x")
    pipe.close()  # idempotent
    pipe.cancel()  # a no-op once closed
    assert frees == [ptr]


def test_context_manager_frees_on_exception(frees):
    with pytest.raises(ZeroDivisionError):
        with sdrt.Pipeline(TINY, provider="cpu") as pipe:
            ptr = pipe._h.ptr
            1 / 0
    assert frees == [ptr]


def test_garbage_collection_frees(frees):
    pipe = sdrt.Pipeline(TINY, provider="cpu")
    ptr = pipe._h.ptr
    del pipe
    gc.collect()
    assert frees == [ptr]


def test_failed_create_frees_nothing(frees, tmp_path):
    with pytest.raises(sdrt.ModelNotFoundError):
        sdrt.Pipeline(str(tmp_path))
    assert frees == []


def test_log_callback_receives_this_pipelines_messages():
    got = []
    with sdrt.Pipeline(TINY, provider="cpu", log_level="info",
                       log_callback=lambda level, msg: got.append((level, msg))) as pipe:
        pipe.generate("x", steps=2)
    assert got, "no message at info level"
    assert {level for level, _ in got} <= {logging.ERROR, logging.WARNING, logging.INFO}
    assert any(re.search(r"onnxruntime \[(unet|text_encoder|vae_decoder)\]", m) for _, m in got)


def test_default_logger_is_sdrt(caplog):
    caplog.set_level(logging.INFO, logger="sdrt")
    long_prompt = " ".join(["word"] * 200)  # truncated to 75 tokens, with a warning
    with sdrt.Pipeline(TINY, provider="cpu") as pipe:  # level taken from the logger: info
        pipe.generate(long_prompt, steps=2)
    records = [r for r in caplog.records if r.name == "sdrt"]
    assert any(r.levelno == logging.WARNING and "trunc" in r.getMessage().lower()
               for r in records), [r.getMessage() for r in records][:5]


def test_default_logger_writes_nothing_without_a_configured_handler():
    # In a fresh process: pytest configures logging handlers of its own.
    code = f"""
import sys
sys.path.insert(0, {PKG!r})
import sdrt
with sdrt.Pipeline({TINY!r}, provider="cpu") as pipe:   # warns: truncated prompt
    pipe.generate(" ".join(["word"] * 200), steps=2)
import logging
logging.basicConfig()   # now the host asks for them
with sdrt.Pipeline({TINY!r}, provider="cpu") as pipe:
    pipe.generate(" ".join(["word"] * 200), steps=2)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("WARNING:sdrt:"), res.stderr


def test_a_raising_log_callback_does_not_reach_c(capfd):
    def bad(level, msg):
        raise RuntimeError("log callback fails")

    with sdrt.Pipeline(TINY, provider="cpu", log_level="debug", log_callback=bad) as pipe:
        assert len(pipe.generate("x", steps=2)) == 1
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_nothing_written_to_stdout_or_stderr(capfd):
    with sdrt.Pipeline(TINY, provider="cpu", log_level="debug",
                       log_callback=lambda level, msg: None) as pipe:
        pipe.generate("x", steps=3, preview="latent_rgb", on_step=lambda i: None)
        with pytest.raises(sdrt.InvalidArgumentError):
            pipe.generate("x", width=33)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_package_source_never_prints():
    for name in os.listdir(os.path.join(PKG, "sdrt")):
        if name.endswith(".py"):
            text = open(os.path.join(PKG, "sdrt", name)).read()
            assert not re.search(r"\bprint\(|sys\.std(out|err)|faulthandler", text), name


def test_runtime_log_callback_in_a_fresh_process():
    code = f"""
import sys
sys.path.insert(0, {PKG!r})
import sdrt
got = []
sdrt.init_runtime({ort_library()!r}, log_callback=lambda level, msg: got.append(msg),
                  log_level="info")
assert any(m.startswith("loaded ONNX Runtime 1.31.1") for m in got), got
assert sdrt.ort_version() == "1.31.1"
sdrt.init_runtime({ort_library()!r})   # the same library again: logging updated, no error
sdrt.init_runtime(log_callback=lambda level, msg: None)   # replaces the callback
# exit: the atexit hook detaches the callback before the interpreter goes
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""


def test_a_log_callback_calling_init_runtime_is_refused_not_deadlocked():
    """A runtime log callback that calls init_runtime ran while init_runtime held the
    binding's lock (and sdrt its logger): it waited for itself forever. sdrt's log callbacks
    must not call sdrt, so the binding now raises RuntimeError there; the outer call
    finishes. In a fresh process (the first init logs), with a timeout."""
    code = f"""
import sys
sys.path.insert(0, {PKG!r})
import sdrt
seen = []
def callback(level, message):
    try:
        sdrt.init_runtime({ort_library()!r}, log_level="debug")
        seen.append("returned")
    except RuntimeError as e:
        seen.append(str(e))
sdrt.init_runtime({ort_library()!r}, log_callback=callback, log_level="info")
assert seen, "the callback was not called"
assert all("log callback" in s for s in seen), seen
def pipeline_log(level, message):
    try:
        sdrt.init_runtime()
        seen.append("returned")
    except RuntimeError as e:
        seen.append(str(e))
n = len(seen)
with sdrt.Pipeline({TINY!r}, provider="cpu", log_callback=pipeline_log, log_level="debug") as p:
    p.generate("x", steps=1)
assert len(seen) > n and all("log callback" in s for s in seen), seen[n:]
sdrt.init_runtime(log_level="warn")   # outside a callback: allowed
sdrt.shutdown_runtime()
"""
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("init_runtime from a log callback hung (deadlock)")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and res.stderr == ""
