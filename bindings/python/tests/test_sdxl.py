"""SDXL through the binding: the base-to-refiner hand-off (`output_latents=True` returns
`sdrt.Latents`, `latents=` with `denoising_start` continues them), the micro-conditioning in
diffusers' (height, width) / (top, left) order, and the second prompts reproduce the SDXL
goldens (tests/goldens/sdxl.json) at the project's tolerance and are the C example's images
byte for byte; bad SDXL arguments raise InvalidArgumentError naming the field."""

from __future__ import annotations

import json
import os

import pytest
from conftest import FIXTURES, ROOT

import sdrt

BASE = os.path.join(FIXTURES, "tiny-sdxl")
REFINER = os.path.join(FIXTURES, "tiny-sdxl-refiner")
GOLDENS = os.path.join(ROOT, "tests", "goldens")
ROWS = {c["name"]: c for c in json.load(open(os.path.join(GOLDENS, "sdxl.json")))}


@pytest.fixture(scope="module")
def base():
    with sdrt.Pipeline(BASE, provider="cpu") as pipe:
        yield pipe


@pytest.fixture(scope="module")
def refiner():
    with sdrt.Pipeline(REFINER, provider="cpu") as pipe:
        yield pipe


def request(row: dict) -> dict:
    """generate()'s arguments for a golden row (sizes and crops as diffusers gives them)."""
    args = dict(width=row["width"], height=row["height"], steps=row["steps"],
                guidance=row["guidance"], seed=row["seed"], generator=row["generator"])
    for k in ("negative_prompt", "prompt_2", "negative_prompt_2", "original_size",
              "crops_coords_top_left", "target_size", "negative_original_size",
              "negative_crops_coords_top_left", "negative_target_size"):
        if row[k] is not None:
            args[k] = tuple(row[k]) if isinstance(row[k], list) else row[k]
    return args


def assert_golden(image: sdrt.Image, name: str) -> None:
    from PIL import Image as PIL

    want = PIL.open(os.path.join(GOLDENS, ROWS[name]["files"][0])).convert("RGB")
    assert (image.width, image.height) == want.size
    diffs = [abs(a - b) for a, b in zip(image.pixels, want.tobytes())]
    assert max(diffs) <= 2 and sum(diffs) / len(diffs) <= 0.15, (name, max(diffs))


def test_the_refiner_hand_off_reproduces_its_golden(base, refiner, c_reference):
    row = ROWS["handoff_base_6_end0.8"]
    args = request(row)
    latents = base.generate(row["prompt"], denoising_end=row["denoising_end"],
                            output_latents=True, **args)
    assert isinstance(latents, sdrt.Latents)
    assert (latents.shape, latents.family, len(latents.data)) == ((1, 4, 8, 8), "sdxl", 256)
    # The golden's own latents (diffusers' output_type="latent"), to float32 precision.
    want = row["latents"]
    assert list(want["shape"]) == list(latents.shape)
    import struct

    golden = struct.unpack(f"{len(want['bits'])}f", struct.pack(f"{len(want['bits'])}I",
                                                               *want["bits"]))
    scale = max(abs(x) for x in golden)
    assert max(abs(a - b) for a, b in zip(latents.data, golden)) <= 1e-3 * max(scale, 1.0)

    refined = refiner.generate(row["prompt"], latents=latents, denoising_start=0.8, **args)
    assert len(refined) == 1
    assert_golden(refined[0], "handoff_refiner_6_start0.8")
    # The C example's --refiner route gives the same bytes.
    c = c_reference(BASE, "handoff", prompt=row["prompt"], refiner=REFINER,
                    denoising_end=0.8, **args)
    assert refined[0].pixels == c[0].pixels
    # Latents built from Python values (numpy too) go in the same way.
    again = sdrt.Latents(list(latents.data), latents.shape, "sdxl")
    assert refiner.generate(row["prompt"], latents=again, denoising_start=0.8,
                            **args)[0].pixels == refined[0].pixels
    np_latents = sdrt.Latents(latents.to_numpy(), latents.shape)
    assert np_latents.data == latents.data


@pytest.mark.parametrize("name", ["base_microcond", "base_prompt2_negative2"])
def test_micro_conditioning_and_second_prompts_reproduce_their_goldens(base, c_reference,
                                                                       name):
    row = ROWS[name]
    args = request(row)
    got = base.generate(row["prompt"], **args)
    assert_golden(got[0], name)
    # The C example takes sizes as WxH and crops as X,Y.
    c_args = {k: v for k, v in args.items() if not isinstance(v, tuple)}
    for k, v in args.items():
        if isinstance(v, tuple):
            c_args[k.replace("crops_coords_top_left", "crop")] = (
                f"{v[1]},{v[0]}" if "crops" in k else f"{v[1]}x{v[0]}")
    assert got[0].pixels == c_reference(BASE, name, prompt=row["prompt"], **c_args)[0].pixels


def test_bad_sdxl_arguments_name_the_field(base, refiner, tiny):
    ok = dict(width=64, height=64, steps=4)
    cases = [
        (base, dict(crops_coords_top_left=(0, 64)), "crop_x/crop_y"),
        (base, dict(original_size=(64, 0)), "original_width/original_height"),
        (base, dict(denoising_start=0.5), "denoising_start"),
        (refiner, dict(latents=sdrt.Latents([0.0] * 256, (1, 4, 8, 8), "sd"),
                       denoising_start=0.8), "latents"),
        (refiner, dict(latents=sdrt.Latents([0.0] * 192, (1, 3, 8, 8)), denoising_start=0.8),
         "latents: shape"),
        (refiner, dict(latents=sdrt.Latents([0.0] * 256, (1, 4, 8, 8)), denoising_start=0.8,
                       denoising_end=0.8), "denoising_start"),
        (refiner, dict(latents=sdrt.Latents([0.0] * 256, (1, 4, 8, 8)), denoising_start=0.8,
                       aesthetic_score=float("nan")), "aesthetic_score"),
        (tiny, dict(prompt_2="x"), "prompt_2: only SDXL"),
        (tiny, dict(target_size=(64, 64)), "target_width/target_height"),
    ]
    for pipe, extra, needle in cases:
        with pytest.raises(sdrt.InvalidArgumentError) as e:
            pipe.generate("a horse", **ok, **extra)
        assert needle in str(e.value), (extra, str(e.value))
    with pytest.raises(sdrt.InvalidArgumentError, match="latents: 3 values"):
        sdrt.Latents([0.0] * 3, (1, 4, 8, 8))
    with pytest.raises(sdrt.InvalidArgumentError, match="crops_coords_top_left"):
        base.generate("a horse", crops_coords_top_left=(1,), **ok)
    with pytest.raises(TypeError, match="latents"):
        base.generate("a horse", latents=[0.0] * 256, **ok)
