"""ControlNets through the binding: `generate(..., controlnets=[sdrt.ControlNet(...)])`
reproduces the ControlNet goldens (tests/goldens/controlnet.json) for SD 2 and SDXL at the
project's tolerance; bad ControlNets raise the error naming the field."""

from __future__ import annotations

import json
import os

import pytest
from conftest import FIXTURES, ROOT

import sdrt

GOLDENS = os.path.join(ROOT, "tests", "goldens")
DOC = json.load(open(os.path.join(GOLDENS, "controlnet.json")))
ROWS = {c["name"]: c for c in DOC["images"]}


def control_image(path: str):
    from PIL import Image as PIL

    return PIL.open(os.path.join(GOLDENS, path)).convert("RGB")


def run(pipe, row, **change):
    nets = [sdrt.ControlNet(c["name"], control_image(c["image"]), scale=c["scale"],
                            start=c["start"], end=c["end"], guess_mode=row["guess_mode"])
            for c in row["controlnets"]]
    args = dict(width=row["width"], height=row["height"], steps=row["steps"],
                guidance=row["guidance"], seed=row["seed"], count=row["count"],
                negative_prompt=row["negative_prompt"], controlnets=nets)
    args.update(change)
    return pipe.generate(row["prompt"], **args)


def assert_golden(image, path):
    from PIL import Image as PIL

    want = PIL.open(os.path.join(GOLDENS, path)).convert("RGB")
    assert (image.width, image.height) == want.size
    diffs = [abs(a - b) for a, b in zip(image.pixels, want.tobytes())]
    assert max(diffs) <= 2 and sum(diffs) / len(diffs) <= 0.15, (path, max(diffs))


@pytest.mark.parametrize("name", ["sd2_multi", "sd2_guess", "sdxl_canny_scale", "sdxl_start_end"])
def test_controlnets_reproduce_the_goldens(name):
    row = ROWS[name]
    with sdrt.Pipeline(os.path.join(FIXTURES, row["model"]), provider="cpu") as pipe:
        images = run(pipe, row)
        assert len(images) == len(row["files"])
        for image, path in zip(images, row["files"]):
            assert_golden(image, path)


def test_bad_controlnets_name_the_field():
    row = ROWS["sd2_canny"]
    with sdrt.Pipeline(os.path.join(FIXTURES, row["model"]), provider="cpu") as pipe:
        img = control_image(row["controlnets"][0]["image"])
        with pytest.raises(sdrt.ModelNotFoundError, match=r"controlnets\[0\]\.model"):
            run(pipe, row, controlnets=[sdrt.ControlNet("nosuch", img)])
        with pytest.raises(sdrt.InvalidArgumentError, match=r"controlnets\[0\]\.start"):
            run(pipe, row, controlnets=[sdrt.ControlNet("canny", img, start=0.9, end=0.1)])
        with pytest.raises(sdrt.InvalidArgumentError, match=r"controlnets\[0\]\.image"):
            run(pipe, row, controlnets=[sdrt.ControlNet("canny", img.resize((32, 32)))])
        with pytest.raises(TypeError, match=r"controlnets\[0\]"):
            run(pipe, row, controlnets=["canny"])
