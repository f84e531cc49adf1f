#!/usr/bin/env python3
"""Write the goldens of SDXL's TAESD (TAESDXL) previews.

Run from the repository root, after tools/make_tiny_sdxl_vae.py (fixture tiny-sdxl-preview) and
tools/make_sdxl_goldens.py (whose `base_euler_numpy_64x96` image the generation case checks):

    /work/venv/bin/python tools/make_sdxl_vae_goldens.py

Writes, deterministically (CPU):

  tests/goldens/taesdxl.json, tests/goldens/taesdxl/*.png
      `decode`: latents RandomState(seed).randn(*shape) (float32) decoded by diffusers'
      `AutoencoderTiny` with tiny-sdxl-preview's vae_preview weights (rebuilt by
      make_tiny_sdxl_vae.build_taesdxl() and checked against the committed ONNX graph), as
      tests/goldens/taesd.json does for SD's TAESD.
      `generation`: the previews of an SDXL generation at given steps: optimum's
      ORTStableDiffusionXLPipeline runs sdxl.json's `base_euler_numpy_64x96` case on tiny-sdxl
      (whose parts tiny-sdxl-preview links to); after each step the scheduler's
      `pred_original_sample` (the clean latents the model predicts, what every sdrt preview
      shows) is decoded by the same `AutoencoderTiny`.
      `mistakes`: how far typical TAESD-for-SDXL mistakes land from those goldens (each beyond
      the image tolerance).
  tests/goldens/README.md
      its "SDXL previews" section (replaced if present, else appended).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_goldens import GOLDENS, write_json  # noqa: E402
from make_sdxl_goldens import TOL_MAX, TOL_MEAN, load_pipe, run_case  # noqa: E402
from make_tiny_sdxl_vae import PREVIEW, build_taesdxl  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
OUT_DIR = GOLDENS / "taesdxl"
SD_TAESD = FIXTURES / "tiny-sd2-preview" / "vae_preview" / "model.onnx"

# (file, seed, shape); shape (1, 4, 12, 8) is 64 wide, 96 high.
DECODE_CASES = [("taesdxl/seed5_64.png", 5, (1, 4, 8, 8)), ("taesdxl/seed6_64x96.png", 6, (1, 4, 12, 8))]
GEN_CASE = "base_euler_numpy_64x96"
GEN_STEPS = (1, 3, 5)
SDXL_VAE_SCALE = 0.13025
SD_VAE_SCALE = 0.18215


def postprocess(x):
    """diffusers' VaeImageProcessor.postprocess to RGB8, as make_goldens.make_taesd."""
    from diffusers.image_processor import VaeImageProcessor

    img = VaeImageProcessor(vae_scale_factor=8).postprocess(x, output_type="np")
    return (img * 255).round().astype("uint8")


def save_png(img, rel):
    from PIL import Image

    Image.fromarray(img).save(GOLDENS / rel, optimize=False)
    assert np.array_equal(np.asarray(Image.open(GOLDENS / rel).convert("RGB")), img)


def diff(a, b):
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    mx, mean = float(d.max()), float(d.mean())
    return mx, round(mean, 6), bool(mx > TOL_MAX and mean > TOL_MEAN)


def onnx_session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@torch.no_grad()
def main():
    torch.set_grad_enabled(False)
    vae = build_taesdxl()
    sess = onnx_session(PREVIEW / "vae_preview" / "model.onnx")
    sd_taesd = onnx_session(SD_TAESD)

    def decode(lat):
        return postprocess(vae.decode(torch.from_numpy(lat)).sample)

    def decode_onnx(s, lat):
        return postprocess(torch.from_numpy(s.run(None, {"latent_sample": lat})[0]))

    def wrong(lat):
        """(name, description, image) of each mistake on UNet-space latents `lat`."""
        return [
            ("sdxl_vae_scale", "latents divided by SDXL's VAE scaling factor 0.13025 before TAESD "
             "(what the full VAE needs; TAESD's scaling factor is 1.0)", decode(lat / SDXL_VAE_SCALE)),
            ("sd_vae_scale", "latents divided by SD's VAE scaling factor 0.18215 before TAESD",
             decode(lat / SD_VAE_SCALE)),
            ("sdxl_vae_scale_multiplied", "latents multiplied by 0.13025 before TAESD",
             decode(lat * SDXL_VAE_SCALE)),
            ("sd_taesd", "SD's TAESD (tiny-sd2-preview's vae_preview) instead of TAESDXL",
             decode_onnx(sd_taesd, lat)),
        ]

    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    mistakes = []

    # 1. latents to preview, as taesd.json
    entries = []
    for fname, seed, shape in DECODE_CASES:
        lat = np.random.RandomState(seed).randn(*shape).astype(np.float32)
        x = vae.decode(torch.from_numpy(lat)).sample
        img = postprocess(x)[0]
        y = sess.run(None, {"latent_sample": lat})[0]
        d_float = float(np.abs(y - x.numpy()).max())
        d_px = int(np.abs(img.astype(int) - postprocess(torch.from_numpy(y))[0].astype(int)).max())
        assert d_float < 1e-4, f"the rebuilt TAESDXL differs from the committed graph: {d_float}"
        save_png(img, fname)
        print(f"  {fname}: torch vs onnx max |diff| {d_float:.2e} (decoder output), {d_px} (RGB8)")
        entries.append({"seed": seed, "shape": list(shape), "file": fname, "width": shape[3] * 8,
                        "height": shape[2] * 8, "onnx_max_abs_diff": d_float, "onnx_max_pixel_diff": d_px})
        for name, desc, w in wrong(lat):
            mistakes.append(dict(zip(("name", "mistake"), (name, desc)), target=fname,
                                 **dict(zip(("max_abs_diff", "mean_abs_diff", "beyond_tolerance"),
                                            diff(w[0], img)))))

    # 2. previews of a generation: the scheduler's pred_original_sample after chosen steps
    case = next(c for c in json.loads((GOLDENS / "sdxl.json").read_text()) if c["name"] == GEN_CASE)
    assert case["scheduler"] is None and case["generator"] == "numpy" and case["count"] == 1
    pipe, sched_cls, base_config = load_pipe(case["mode"], case["model"])
    seen = []
    original_step = sched_cls.step

    def step(self, model_output, timestep, sample, *a, **k):
        k["return_dict"] = True
        out = original_step(self, model_output, timestep, sample, *a, **k)
        seen.append((sample.detach().clone(), out.pred_original_sample.detach().clone()))
        return out.to_tuple()

    sched_cls.step = step
    try:
        final, rec = run_case(pipe, sched_cls, base_config, dict(case, files=[]), {})
    finally:
        sched_cls.step = original_step
    from PIL import Image

    golden_final = np.asarray(Image.open(GOLDENS / case["files"][0]).convert("RGB"))
    assert np.array_equal(final[0], golden_final), "the run is not sdxl.json's case"
    assert len(seen) == case["steps"] == len(rec.calls)
    previews = []
    for s in GEN_STEPS:
        sample, x0 = seen[s - 1]
        lat = x0.numpy().astype(np.float32)
        img = decode(lat)[0]
        fname = f"taesdxl/{GEN_CASE}_step{s}.png"
        save_png(img, fname)
        previews.append({"step": s, "file": fname})
        print(f"  {fname}: x0 range [{float(lat.min()):.3f}, {float(lat.max()):.3f}]")
        rows = wrong(lat) + [("noisy_latents", "the scheduler's noisy sample (before the step) "
                              "decoded instead of the predicted clean latents",
                              decode(sample.numpy().astype(np.float32)))]
        for name, desc, w in rows:
            mistakes.append(dict(zip(("name", "mistake"), (name, desc)), target=fname,
                                 **dict(zip(("max_abs_diff", "mean_abs_diff", "beyond_tolerance"),
                                            diff(w[0], img)))))
    generation = {
        "case": GEN_CASE, "model": PREVIEW.name, "reference_model": case["model"],
        "prompt": case["prompt"], "negative_prompt": case["negative_prompt"],
        "width": case["width"], "height": case["height"], "steps": case["steps"],
        "guidance": case["guidance"], "seed": case["seed"], "generator": case["generator"],
        "final_file": case["files"][0], "previews": previews,
    }
    for m in mistakes:
        print(f"  mistake {m['name']:26s} on {m['target']:40s} max {m['max_abs_diff']:6.1f} "
              f"mean {m['mean_abs_diff']:8.3f} {'beyond' if m['beyond_tolerance'] else 'WITHIN'}")
    failing = [(m["name"], m["target"]) for m in mistakes if not m["beyond_tolerance"]]
    assert not failing, f"mistakes within tolerance: {failing}"
    write_json(GOLDENS / "taesdxl.json", {
        "model": PREVIEW.name,
        "tolerance": {"max_abs_diff": TOL_MAX, "mean_abs_diff": TOL_MEAN},
        "decode": entries, "generation": generation, "mistakes": mistakes,
    }, indent=2)
    write_readme(generation)


README_HEADING = "## SDXL previews (taesdxl.json)"


def write_readme(gen):
    steps = ", ".join(str(p["step"]) for p in gen["previews"])

    def item(text, indent=0):
        return textwrap.fill(" ".join(text.split()), width=98, initial_indent=" " * indent + "- ",
                             subsequent_indent=" " * (indent + 2), break_on_hyphens=False,
                             break_long_words=False)

    intro = textwrap.fill(
        "Written by `python tools/make_sdxl_vae_goldens.py` after `python tools/make_tiny_sdxl_vae.py` "
        "(fixture `tiny-sdxl-preview`, see its README) and `python tools/make_sdxl_goldens.py`. CPU, "
        "deterministic; `tools/make_goldens.py` does not write this section (rerun this script after it).",
        width=98, break_on_hyphens=False)
    parts = [
        item(f"""`taesdxl.json`: `{{"model", "tolerance", "decode", "generation", "mistakes"}}`, and the
            PNGs in `taesdxl/`. Decoder: diffusers' `AutoencoderTiny` with the weights of
            `tests/fixtures/{PREVIEW.name}/vae_preview` (TAESDXL's config, random weights; rebuilt by
            `make_tiny_sdxl_vae.build_taesdxl()` and checked against the committed ONNX graph);
            latents in **unscaled** (TAESDXL's scaling_factor is 1.0); pixels through
            `VaeImageProcessor.postprocess` (`clamp(x / 2 + 0.5, 0, 1) * 255`, rounded)."""),
        item("""`decode`: the schema of `taesd.json` (`seed, shape, file, width, height,
            onnx_max_abs_diff, onnx_max_pixel_diff`): latents `RandomState(seed).randn(*shape)`
            (float32).""", 2),
        item(f"""`generation`: sdxl.json's `{gen["case"]}` (prompt {gen["prompt"]!r}, negative None,
            {gen["width"]}x{gen["height"]}, {gen["steps"]} steps, guidance {gen["guidance"]:g}, numpy
            latents seed {gen["seed"]}, the model's EulerDiscreteScheduler) through optimum's
            `ORTStableDiffusionXLPipeline` on `{gen["reference_model"]}` (its final image checked
            equal to `{gen["final_file"]}`); `previews`: `{{"step", "file"}}` for steps {steps}: the
            `pred_original_sample` that `EulerDiscreteScheduler.step` returns at that step (`sample
            - sigma * guided noise`: the clean latents every sdrt preview shows), decoded. sdrt's
            `taesd` preview of that step (1-based UNet evaluation) on `{gen["model"]}` matches it.""", 2),
        item(f"""`mistakes`: `{{"name", "mistake", "target", "max_abs_diff", "mean_abs_diff",
            "beyond_tolerance"}}`: the image each mistake gives against the golden `target`, all
            beyond the tolerance (max |diff| > {TOL_MAX:g} and mean > {TOL_MEAN:g}): the VAE's scaling
            applied to the latents first (SDXL's 0.13025 or SD's 0.18215, divided; or multiplied),
            SD's TAESD (tiny-sd2-preview's) instead of TAESDXL, and for the generation previews the
            noisy sample decoded instead of the predicted clean latents.""", 2),
        item("""The float16 VAE fixtures of `tools/make_tiny_sdxl_vae.py` (`tiny-sdxl-vae-fp16`,
            `tiny-sdxl-vae-fp16-overflow`) have no goldens of their own: tests/sdxl_vae.rs compares
            the first one's image with `generation`'s `final_file` (diffusers' float32 image) and
            checks the second one's error."""),
    ]
    text = "\n".join([README_HEADING, "", intro, ""] + parts) + "\n"
    path = GOLDENS / "README.md"
    old = path.read_text(encoding="utf-8")
    if README_HEADING in old:
        start = old.index(README_HEADING)
        nxt = old.find("\n## ", start + len(README_HEADING))
        old = old[:start].rstrip("\n") + ("\n" + old[nxt:] if nxt != -1 else "")
    path.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


if __name__ == "__main__":
    main()
