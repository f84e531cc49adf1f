"""LoRAs chosen per call through the binding: `Pipeline.load_lora` and `generate(loras=...)`
reproduce the LoRA goldens (tests/goldens/lora.json: diffusers' load_lora_weights +
set_adapters/fuse_lora, run by optimum's ORT pipelines) at the project's tolerance, switched
between calls on one pipeline; bad files raise with sdrt's message; a freed LoRA, another
pipeline's, a bad scale or a bad argument is refused; the pipeline frees what is left."""

from __future__ import annotations

import json
import math
import os

import pytest
from conftest import FIXTURES, ROOT, TINY

import sdrt
from sdrt import _native as n

GOLDENS = os.path.join(ROOT, "tests", "goldens")
ROWS = {c["name"]: c for c in json.load(open(os.path.join(GOLDENS, "lora.json")))["images"]}
LORAS = os.path.join(FIXTURES, "loras")


@pytest.fixture(scope="module")
def sd2():
    with sdrt.Pipeline(TINY, provider="cpu") as pipe:
        yield pipe


def request(row: dict) -> dict:
    """generate()'s arguments for a golden row, its LoRAs aside."""
    assert row["model"] == "tiny-sd2" and row["count"] == 1 and row["scheduler"] is None
    return dict(negative_prompt=row["negative_prompt"], width=row["width"],
                height=row["height"], steps=row["steps"], guidance=row["guidance"],
                seed=row["seed"], generator=row["generator"], eta=row["eta"])


def assert_golden(image: sdrt.Image, name: str) -> None:
    from PIL import Image as PIL

    want = PIL.open(os.path.join(GOLDENS, ROWS[name]["files"][0])).convert("RGB")
    assert (image.width, image.height) == want.size
    diffs = [abs(a - b) for a, b in zip(image.pixels, want.tobytes())]
    assert max(diffs) <= 2 and sum(diffs) / len(diffs) <= 0.15, (name, max(diffs))


def test_two_loras_reproduce_their_golden_and_calls_switch_them(sd2):
    row = ROWS["sd2_two"]
    assert [(lo["file"], lo["scale"]) for lo in row["loras"]] == [
        ("loras/sd2_unet.safetensors", 0.7), ("loras/sd2_te_unet.safetensors", 0.6)]
    unet = sd2.load_lora(os.path.join(LORAS, "sd2_unet.safetensors"))
    te_unet = sd2.load_lora(os.path.join(LORAS, "sd2_te_unet.safetensors"))
    try:
        assert isinstance(unet, sdrt.Lora) and not unet.freed
        two = sd2.generate(row["prompt"], loras=[(unet, 0.7), (te_unet, 0.6)], **request(row))
        assert len(two) == 1
        assert_golden(two[0], "sd2_two")
        # Each call's choice alone decides its image: none, one bare (scale 1.0), one scaled.
        plain = ROWS["sd2_none"]
        assert_golden(sd2.generate(plain["prompt"], **request(plain))[0], "sd2_none")
        s1 = ROWS["sd2_unet_s1"]
        assert_golden(sd2.generate(s1["prompt"], loras=unet, **request(s1))[0], "sd2_unet_s1")
        assert_golden(sd2.generate(s1["prompt"], loras=[unet], **request(s1))[0],
                      "sd2_unet_s1")
        te = ROWS["sd2_te_unet"]
        assert_golden(sd2.generate(te["prompt"], loras=[(te_unet, 0.8)], **request(te))[0],
                      "sd2_te_unet")
        # An empty list is none.
        assert_golden(sd2.generate(plain["prompt"], loras=[], **request(plain))[0], "sd2_none")
        # And back: the same bytes as the first time.
        again = sd2.generate(row["prompt"], loras=[(unet, 0.7), (te_unet, 0.6)], **request(row))
        assert again[0].pixels == two[0].pixels
    finally:
        unet.free()
        te_unet.free()


def test_kohya_files_load_too(sd2):
    row = ROWS["sd2_kohya"]
    with sd2.load_lora(os.path.join(FIXTURES, row["loras"][0]["file"])) as kohya:
        image = sd2.generate(row["prompt"], loras=[(kohya, row["loras"][0]["scale"])],
                             **request(row))[0]
    assert kohya.freed
    assert_golden(image, "sd2_kohya")


@pytest.mark.parametrize("file, error, words", [
    ("bad_rank.safetensors", sdrt.InvalidArgumentError, ["rank mismatch", "attn1.to_k"]),
    ("not_safetensors.safetensors", sdrt.InvalidArgumentError, ["not a safetensors file"]),
    ("nothing_matches.safetensors", sdrt.InvalidArgumentError, ["matches no linear layer"]),
    ("sdxl.safetensors", sdrt.InvalidArgumentError, ["a LoRA for another model"]),
    ("no_such_file.safetensors", sdrt.ModelNotFoundError, ["no_such_file.safetensors"]),
])
def test_bad_files_raise_with_sdrts_message(sd2, file, error, words):
    with pytest.raises(error) as e:
        sd2.load_lora(os.path.join(LORAS, file))
    for w in words:
        assert w in str(e.value), str(e.value)
    assert e.value.status == {sdrt.InvalidArgumentError: n.SDRT_ERROR_INVALID_ARGUMENT,
                              sdrt.ModelNotFoundError: n.SDRT_ERROR_MODEL_NOT_FOUND}[error]


def test_freed_foreign_and_bad_loras_are_refused(sd2):
    quick = dict(width=64, height=64, steps=2)
    lora = sd2.load_lora(os.path.join(LORAS, "sd2_unet.safetensors"))
    for scale in (math.nan, math.inf):
        with pytest.raises(sdrt.InvalidArgumentError, match=r"loras\[0\]\.scale"):
            sd2.generate("a fox", loras=[(lora, scale)], **quick)
    for bad, err in (("x", TypeError), ([lora, "x"], TypeError), ([("x", 1.0)], TypeError),
                     ([(lora,)], TypeError), ([(lora, "big")], sdrt.InvalidArgumentError), (3, TypeError)):
        with pytest.raises(err):
            sd2.generate("a fox", loras=bad, **quick)
    with pytest.raises(sdrt.InvalidArgumentError, match="LoRAs per call"):
        sd2.generate("a fox", loras=[lora] * (n.SDRT_MAX_LORAS_PER_CALL + 1), **quick)
    sd2.generate("a fox", loras=[lora] * 2, **quick)
    # Another pipeline's LoRA.
    with sdrt.Pipeline(TINY, provider="cpu") as other:
        theirs = other.load_lora(os.path.join(LORAS, "sd2_unet.safetensors"))
        with pytest.raises(sdrt.InvalidArgumentError, match=r"loras\[0\]"):
            sd2.generate("a fox", loras=[(theirs, 1.0)], **quick)
        assert not theirs.freed
    # Closing the pipeline freed it; free() is then a no-op.
    assert theirs.freed
    theirs.free()
    # Freed: refused by generate, free() again a no-op; the pipeline keeps working.
    lora.free()
    assert lora.freed
    with pytest.raises(sdrt.InvalidArgumentError, match="not loaded in this pipeline"):
        sd2.generate("a fox", loras=[(lora, 1.0)], **quick)
    lora.free()
    assert "freed" in repr(lora)
    sd2.generate("a fox", **quick)


def test_not_from_the_pipelines_own_callback(sd2):
    lora = sd2.load_lora(os.path.join(LORAS, "sd2_unet.safetensors"))
    seen = []

    def step(_info):
        for call in (lambda: sd2.load_lora(os.path.join(LORAS, "sd2_unet.safetensors")),
                     lora.free):
            try:
                call()
            except RuntimeError as e:
                seen.append(str(e))
        return False

    with pytest.raises(sdrt.CancelledError):
        sd2.generate("a fox", width=64, height=64, steps=2, on_step=step)
    assert len(seen) == 2 and all("callbacks" in s for s in seen), seen
    assert not lora.freed
    lora.free()


def test_a_closed_pipeline_loads_nothing(tmp_path):
    pipe = sdrt.Pipeline(TINY, provider="cpu")
    pipe.close()
    with pytest.raises(ValueError, match="closed"):
        pipe.load_lora(os.path.join(LORAS, "sd2_unet.safetensors"))
