"""Images through the binding are the C API's images, byte for byte: text-to-image,
image-to-image (RGB and padded RGBA input) and inpainting against the C example
(examples/c/txt2img.c) run on the same libsdrt; previews through on_step; numpy and Pillow
conversions; and the core running with neither installed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import FIXTURES, INPAINT, PKG, PREVIEW, TINY, pattern, write_pnm

import sdrt

PROMPT = "a photo of an astronaut riding a horse on mars"


def test_txt2img_matches_the_c_example(tiny, c_reference):
    got = tiny.generate(PROMPT, width=64, height=64, steps=10, guidance=7.5, seed=42,
                        scheduler="pndm")
    want = c_reference(TINY, "basic", prompt=PROMPT, width=64, height=64, steps=10,
                       guidance=7.5, seed=42, scheduler="pndm")
    assert len(got) == 1
    img = got[0]
    assert (img.width, img.height, img.mode, img.stride) == (64, 64, "RGB", 192)
    assert isinstance(img.pixels, bytes) and len(img.pixels) == 64 * 64 * 3
    assert img.pixels == want[0].pixels


def test_txt2img_options_match_the_c_example(tiny, c_reference):
    args = dict(width=32, height=96, steps=6, guidance=5.0, seed=1234, count=2,
                scheduler="euler-a", generator="torch")
    got = tiny.generate("a red cube", negative_prompt="blurry", **args)
    want = c_reference(TINY, "options", prompt="a red cube", negative_prompt="blurry", **args)
    assert [g.pixels for g in got] == [w.pixels for w in want]
    assert got[0].pixels != got[1].pixels


def test_torch_cuda_generator_matches_the_c_example(tiny, c_reference):
    args = dict(width=64, height=64, steps=4, seed=2**40 + 3, scheduler="euler-a",
                generator="torch-cuda")
    got = tiny.generate("a lighthouse", **args)
    want = c_reference(TINY, "cuda", prompt="a lighthouse", **args)
    assert got[0].pixels == want[0].pixels
    cpu = tiny.generate("a lighthouse", **dict(args, generator="torch"))
    assert cpu[0].pixels != got[0].pixels


def test_img2img_matches_the_c_example(tiny, c_reference, tmp_path):
    init = pattern(64, 64)
    ppm = write_pnm(str(tmp_path / "init.ppm"), init)
    args = dict(steps=8, seed=600, strength=0.6, scheduler="ddim", generator="torch")
    want = c_reference(TINY, "i2i", prompt="an oil painting", init_image=ppm, **args)
    got = tiny.generate("an oil painting", init_image=init, **args)
    assert got[0].pixels == want[0].pixels
    # The same picture as RGBA with padded rows (alpha and padding are ignored), and as a
    # (pixels, width, height) tuple.
    rgba = pattern(64, 64, "RGBA", stride_pad=12)
    assert tiny.generate("an oil painting", init_image=rgba, **args)[0] == got[0]
    as_tuple = (init.pixels, 64, 64)
    assert tiny.generate("an oil painting", init_image=as_tuple, **args)[0] == got[0]


def test_inpaint_matches_the_c_example(inpaint, c_reference, tmp_path):
    init, mask = pattern(64, 64), pattern(64, 64, "L")
    ppm = write_pnm(str(tmp_path / "init.ppm"), init)
    pgm = write_pnm(str(tmp_path / "mask.pgm"), mask)
    args = dict(steps=6, seed=7, strength=1.0, guidance=7.5)
    want = c_reference(INPAINT, "inpaint", prompt="a red boat", init_image=ppm, mask=pgm,
                       **args)
    got = inpaint.generate("a red boat", init_image=init, mask=mask, **args)
    assert got[0].pixels == want[0].pixels
    # A mask as a (pixels, width, height) tuple is GRAY8.
    again = inpaint.generate("a red boat", init_image=init, mask=(mask.pixels, 64, 64), **args)
    assert again[0] == got[0]


def test_low_memory_mode_gives_the_same_inpainting(inpaint):
    init, mask = pattern(64, 64), pattern(64, 64, "L")
    args = dict(steps=4, seed=3, strength=0.9, guidance=7.5)
    want = inpaint.generate("a red boat", init_image=init, mask=mask, **args)
    with sdrt.Pipeline(INPAINT, provider="cpu", low_memory=True, graph_cache_dir="") as low:
        got = low.generate("a red boat", init_image=init, mask=mask, **args)
    assert got[0].pixels == want[0].pixels


def test_previews_through_on_step(tiny):
    seen = []
    images = tiny.generate(PROMPT, width=64, height=64, steps=6, seed=3, scheduler="euler",
                           count=2, preview="latent_rgb", on_step=seen.append)
    assert [s.step for s in seen] == list(range(1, 7))
    assert all(s.total_steps == 6 for s in seen)
    assert all(s.preview_kind == "latent_rgb" and len(s.previews) == 2 for s in seen)
    assert all((p.width, p.height, len(p.pixels)) == (8, 8, 8 * 8 * 3)
               for s in seen for p in s.previews)
    assert seen[0].elapsed_seconds <= seen[-1].elapsed_seconds
    # Previews never change the final image.
    plain = tiny.generate(PROMPT, width=64, height=64, steps=6, seed=3, scheduler="euler",
                          count=2)
    assert [i.pixels for i in images] == [i.pixels for i in plain]

    # Every 2nd evaluation and after the last, full size through the model's VAE.
    seen.clear()
    tiny.generate(PROMPT, width=64, height=64, steps=5, seed=3, scheduler="euler",
                  preview="full", preview_every=2, on_step=seen.append)
    with_preview = [s.step for s in seen if s.previews]
    assert with_preview == [2, 4, 5]
    assert all(s.previews[0].size == (64, 64) for s in seen if s.previews)


def test_taesd_previews():
    seen = []
    with sdrt.Pipeline(PREVIEW, provider="cpu") as pipe:
        pipe.generate("x", steps=4, seed=1, scheduler="euler", preview="taesd",
                      on_step=seen.append)
    assert [len(s.previews) for s in seen] == [1, 1, 1, 1]
    assert seen[-1].preview_kind == "taesd"


def test_on_step_false_cancels(tiny):
    steps = []

    def stop_at_two(info):
        steps.append(info.step)
        return info.step < 2

    with pytest.raises(sdrt.CancelledError) as e:
        tiny.generate(PROMPT, width=64, height=64, steps=10, on_step=stop_at_two)
    assert e.value.status == 8 and steps == [1, 2]


def test_exception_in_on_step_cancels_and_is_reraised(tiny):
    class Boom(Exception):
        pass

    steps = []
    err = Boom("from the callback")

    def boom(info):
        steps.append(info.step)
        if info.step == 3:
            raise err

    with pytest.raises(Boom) as e:
        tiny.generate(PROMPT, width=64, height=64, steps=20, seed=5, on_step=boom)
    assert e.value is err
    assert steps == [1, 2, 3], "the call went on after the exception"
    # The pipeline is fine afterwards: the same image as a fresh call.
    a = tiny.generate(PROMPT, width=64, height=64, steps=4, seed=5)
    with sdrt.Pipeline(TINY, provider="cpu") as fresh:
        b = fresh.generate(PROMPT, width=64, height=64, steps=4, seed=5)
    assert a[0] == b[0]


def test_keyboard_interrupt_in_on_step_is_reraised(tiny):
    def interrupt(info):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tiny.generate(PROMPT, width=64, height=64, steps=4, on_step=interrupt)


def test_numpy_conversions(tiny):
    np = pytest.importorskip("numpy")
    img = tiny.generate(PROMPT, width=64, height=32, steps=3, seed=9)[0]
    arr = img.to_numpy()
    assert arr.shape == (32, 64, 3) and arr.dtype == np.uint8
    assert arr.tobytes() == img.pixels
    init = pattern(64, 64)
    by_bytes = tiny.generate("x", init_image=init, steps=4, strength=0.5)[0]
    by_array = tiny.generate("x", init_image=init.to_numpy(), steps=4, strength=0.5)[0]
    assert by_array == by_bytes
    padded = pattern(64, 64, "RGBA", stride_pad=8)
    assert padded.to_numpy().shape == (64, 64, 4)


def test_pil_conversions(tiny, inpaint):
    PIL = pytest.importorskip("PIL.Image")
    img = tiny.generate(PROMPT, width=64, height=64, steps=3, seed=9)[0]
    pil = img.to_pil()
    assert pil.size == (64, 64) and pil.mode == "RGB" and pil.tobytes() == img.pixels
    init, mask = pattern(64, 64), pattern(64, 64, "L")
    want = inpaint.generate("x", init_image=init, mask=mask, steps=3, strength=1.0)[0]
    got = inpaint.generate("x", init_image=init.to_pil(), mask=mask.to_pil(), steps=3,
                           strength=1.0)[0]
    assert got == want
    # A gray init picture is converted to RGB, an RGB mask to gray.
    gray_init = init.to_pil().convert("L")
    assert inpaint.generate("x", init_image=gray_init, mask=mask, steps=3, strength=1.0)[0] \
        == inpaint.generate("x", init_image=gray_init.convert("RGB"), mask=mask, steps=3,
                            strength=1.0)[0]
    rgb_mask = PIL.merge("RGB", [mask.to_pil()] * 3)
    assert inpaint.generate("x", init_image=init.to_pil(), mask=rgb_mask, steps=3,
                            strength=1.0)[0] == want


def test_core_needs_neither_numpy_nor_pillow(tmp_path):
    code = f"""
import sys
sys.modules["numpy"] = None   # import numpy now fails
sys.modules["PIL"] = None
sys.path.insert(0, {PKG!r})
import sdrt
with sdrt.Pipeline({TINY!r}, provider="cpu") as p:
    img = p.generate("x", steps=2, seed=1)[0]
assert len(img.pixels) == 64 * 64 * 3 and img.to_ppm().startswith(b"P6")
try:
    img.to_numpy()
except ImportError:
    pass
else:
    raise SystemExit("to_numpy worked without numpy")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""
    # And importing the package does not import them either.
    res = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {PKG!r}); "
                          "import sdrt; assert 'numpy' not in sys.modules and "
                          "'PIL' not in sys.modules"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_safety_checked_says_whether_the_folders_checker_ran(tiny):
    """`Image.safety_checked` is `sdrt_images_safety_checked`: set on every image when the
    folder's safety checker ran (SD 1.x exports that ship one), not when the folder has none
    or the pipeline turned it off."""
    safety = os.path.join(FIXTURES, "tiny-sd1-safety")
    with sdrt.Pipeline(safety, provider="cpu") as pipe:
        assert pipe.info.safety_checker
        images = pipe.generate("a lighthouse", steps=2, seed=1, count=2)
        assert [i.safety_checked for i in images] == [True, True]
    with sdrt.Pipeline(safety, provider="cpu", disable_safety_checker=True) as pipe:
        assert not pipe.info.safety_checker
        images = pipe.generate("a lighthouse", steps=2, seed=1)
        assert not images[0].safety_checked and not images[0].flagged
    images = tiny.generate("a lighthouse", steps=2, seed=1)
    assert not images[0].safety_checked and not images[0].flagged


def test_prompt_weighting_reproduces_the_weighted_golden():
    """`prompt_weighting="a1111"` against tests/goldens/weighted.json (tools/
    make_weighted_goldens.py), at the Rust tests' tolerance."""
    import json

    from PIL import Image

    root = os.path.dirname(FIXTURES)
    with open(os.path.join(root, "goldens", "weighted.json"), encoding="utf-8") as f:
        case = next(c for c in json.load(f)["images"] if c["name"] == "weighted_long")
    with sdrt.Pipeline(os.path.join(FIXTURES, case["model"]), provider="cpu") as pipe:
        got = pipe.generate(case["prompt"], negative_prompt=case["negative_prompt"],
                            width=case["width"], height=case["height"], steps=case["steps"],
                            guidance=case["guidance"], seed=case["seed"],
                            prompt_weighting="a1111")[0]
        want = Image.open(os.path.join(root, "goldens", case["files"][0])).convert("RGB")
        diffs = [abs(a - b) for a, b in zip(got.pixels, want.tobytes())]
        assert max(diffs) <= 2 and sum(diffs) / len(diffs) <= 0.15
        with pytest.raises(sdrt.InvalidArgumentError):
            pipe.generate("(a:1.2.3)", steps=1, prompt_weighting="a1111")
        with pytest.raises(ValueError):
            pipe.generate("a", steps=1, prompt_weighting="compel")
