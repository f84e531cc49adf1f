"""The plugin execution providers through the binding (issue 15): `provider="openvino"` and
`"plugin"` with the `ep_*` options. Without the plugin library the pipeline runs on the CPU
provider (the info says so), strict mode refuses it, and malformed options are errors naming
the option. (The OpenVINO runs themselves are tests/openvino*.rs.)"""

from __future__ import annotations

import pytest
from conftest import TINY

import sdrt

MISSING = "/nonexistent/libonnxruntime_providers_openvino_plugin.so"


def test_openvino_without_its_plugin_runs_on_cpu():
    with sdrt.Pipeline(TINY, provider="openvino", ep_library=MISSING, ep_device="cpu",
                       ep_precision="f32", ep_options={"num_of_threads": "2"},
                       log_level="off") as pipe:
        info = pipe.info
        assert info.provider == "cpu"
        assert info.cpu_fallback_graphs == 0
        images = pipe.generate("a red cube", steps=2, seed=3)
        assert len(images) == 1 and images[0].width == 64


def test_strict_openvino_without_its_plugin_is_provider_unavailable():
    with pytest.raises(sdrt.ProviderUnavailableError, match="/nonexistent/"):
        sdrt.Pipeline(TINY, provider="openvino", ep_library=MISSING, strict_provider=True)


def test_plugin_options_are_checked():
    for kwargs, field in (({"ep_device": "tpu"}, "ep_device"),
                          ({"ep_precision": "f64"}, "ep_precision"),
                          ({"ep_options": {"": "x"}}, "ep_option_keys"),
                          ({"ep_device": "auto", "ep_precision": "bf16"}, "precision bf16")):
        with pytest.raises(sdrt.InvalidArgumentError, match=field):
            sdrt.Pipeline(TINY, provider="openvino", ep_library=MISSING, **kwargs)
    with pytest.raises(sdrt.InvalidArgumentError, match="ep_name"):
        sdrt.Pipeline(TINY, provider="plugin", ep_library=MISSING)
    with pytest.raises(TypeError, match="ep_options"):
        sdrt.Pipeline(TINY, provider="openvino", ep_library=MISSING, ep_options={"k": 2})


def test_ep_devices_list_the_cpu_provider():
    devices = sdrt.ep_devices()
    cpu = [d for d in devices if d["ep_name"] == "CPUExecutionProvider"]
    assert len(cpu) == 1 and cpu[0]["device"] == "cpu" and cpu[0]["vendor"], devices
    assert isinstance(cpu[0]["ep_metadata"], dict)
    with pytest.raises(sdrt.ProviderUnavailableError, match="/nonexistent/"):
        sdrt.ep_devices(MISSING)
