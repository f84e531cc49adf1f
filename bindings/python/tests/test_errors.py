"""Errors come back as the exception class of their sdrt status, with sdrt's message; bad
input the binding can see (types, ranges, NUL bytes, enum names) is refused before C."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import PKG, TINY, pattern

import sdrt
from sdrt import _native as n
from sdrt.errors import ERRORS, error_from_status


def test_one_subclass_per_status():
    names = {s: n.lib().sdrt_status_str(s).decode() for s in range(1, 12)}
    assert sorted(ERRORS) == list(range(1, 12))
    for status, cls in ERRORS.items():
        assert issubclass(cls, sdrt.SdrtError)
        e = error_from_status(status, "detail")
        assert type(e) is cls and e.status == status and e.message == "detail"
        assert e.status_name == names[status]
        assert str(e) == f"{names[status]}: detail"
    assert len(set(ERRORS.values())) == 11
    unknown = error_from_status(999, "x")
    assert type(unknown) is sdrt.SdrtError and unknown.status == 999
    assert unknown.status_name == "SDRT_ERROR_UNKNOWN"
    assert issubclass(sdrt.InvalidArgumentError, ValueError)


def test_missing_model_folder(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(sdrt.ModelNotFoundError) as e:
        sdrt.Pipeline(missing)
    assert e.value.status == n.SDRT_ERROR_MODEL_NOT_FOUND
    assert "no-such-model" in e.value.message


def test_invalid_model_folder(tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(TINY, broken)
    cfg = broken / "scheduler" / "scheduler_config.json"
    cfg.write_text("{ not json")
    with pytest.raises(sdrt.ModelInvalidError) as e:
        sdrt.Pipeline(str(broken))
    assert "scheduler_config.json" in e.value.message
    cfg.write_text(json.dumps({"_class_name": "PNDMScheduler", "num_train_timesteps": -5}))
    with pytest.raises(sdrt.SdrtError):
        sdrt.Pipeline(str(broken))


@pytest.mark.parametrize("kwargs, words", [
    (dict(width=33), "width"),
    (dict(steps=0), "steps"),
    (dict(count=0), "count"),
    (dict(guidance=float("nan")), "guidance"),
    (dict(strength=1.5, init_image=pattern(64, 64)), "strength"),
    (dict(mask=pattern(64, 64, "L")), "mask"),
    (dict(init_image=pattern(64, 64), width=32), "width"),
    (dict(seed=1 << 40), "seed"),
    (dict(scheduler=99), "scheduler"),
])
def test_sdrt_refuses_bad_params(tiny, kwargs, words):
    with pytest.raises(sdrt.InvalidArgumentError) as e:
        tiny.generate("x", **kwargs)
    assert e.value.status == n.SDRT_ERROR_INVALID_ARGUMENT
    assert words in e.value.message, e.value.message


@pytest.mark.parametrize("kwargs, words", [
    (dict(steps=-1), "steps"),
    (dict(width=1 << 32), "width"),
    (dict(seed=-1), "seed"),
    (dict(scheduler="no-such"), "scheduler"),
    (dict(generator="mt19937"), "generator"),
    (dict(preview="thumbnail"), "preview"),
    (dict(prompt="a\0b"), "NUL"),
    (dict(prompt="\ud800"), "UTF-8"),
    (dict(steps="many"), "steps"),
    (dict(steps=7.5), "steps"),
    (dict(seed=float("inf")), "seed"),
    (dict(init_image=pattern(64, 64, "L")), "init_image"),
    (dict(init_image=pattern(64, 64), mask=pattern(64, 64)), "mask"),
])
def test_the_binding_refuses_what_c_cannot_express(tiny, kwargs, words):
    with pytest.raises(sdrt.InvalidArgumentError) as e:
        tiny.generate(**kwargs)
    assert words in str(e.value)


def test_wrong_types(tiny):
    with pytest.raises(TypeError):
        tiny.generate(123)
    with pytest.raises(TypeError):
        tiny.generate("x", init_image=object())
    with pytest.raises(TypeError):
        tiny.generate("x", on_step=42)
    with pytest.raises(sdrt.InvalidArgumentError):
        sdrt.Image(4, 4, b"\0" * 10)  # too few bytes for 4x4 RGB


def test_provider_errors():
    with pytest.raises(sdrt.InvalidArgumentError):
        sdrt.Pipeline(TINY, provider="tpu")
    # CUDA is not in the CPU-only ONNX Runtime the tests load: strict mode refuses it.
    with pytest.raises(sdrt.ProviderUnavailableError):
        sdrt.Pipeline(TINY, provider="cuda", strict_provider=True)


def test_another_ort_library_is_already_initialized(tmp_path):
    with pytest.raises(sdrt.AlreadyInitializedError):
        sdrt.Pipeline(TINY, ort_library=str(tmp_path / "libonnxruntime.so"))


def run_fresh(code: str, **env) -> subprocess.CompletedProcess:
    full = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c",
                           f"import sys; sys.path.insert(0, {PKG!r})\n" + code],
                          capture_output=True, text=True, env=full)


def test_runtime_unavailable_in_a_fresh_process(tmp_path):
    res = run_fresh(f"""
import sdrt
try:
    sdrt.Pipeline({TINY!r}, ort_library={str(tmp_path / 'nothing.so')!r})
except sdrt.RuntimeUnavailableError as e:
    assert 'nothing.so' in e.message, e.message
else:
    raise SystemExit('no error')
""")
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""


def test_library_not_found_in_a_fresh_process(tmp_path):
    res = run_fresh("""
import sdrt
try:
    sdrt.version()
except sdrt.LibraryNotFoundError as e:
    assert 'SDRT_LIBRARY' in str(e), e
else:
    raise SystemExit('loaded ' + sdrt.library_path())
""", SDRT_LIBRARY=str(tmp_path / "libsdrt.so"))
    assert res.returncode == 0, res.stderr
