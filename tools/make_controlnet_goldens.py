#!/usr/bin/env python3
"""Write the ControlNet goldens the Rust tests compare against (tests/controlnet.rs).

Run from the repository root, after tools/make_tiny_controlnet.py:

    /work/venv/bin/python tools/make_controlnet_goldens.py

Writes, deterministically (CPU):

  tests/goldens/controlnet/inputs/*.png   the control images (drawn here)
  tests/goldens/controlnet.json, tests/goldens/controlnet/*.png
      "images": diffusers' StableDiffusionControlNetPipeline / StableDiffusionXLControlNetPipeline
      on tests/fixtures/tiny-sd2-controlnet and tiny-sdxl-controlnet, with every graph (text
      encoders, the ControlNets, the residual-taking UNet, the VAE decoder) replaced by the
      fixture's ONNX graph run by ONNX Runtime (each module's `forward` patched; diffusers' own
      `__call__` is the loop, so the reference follows it line by line). Each case records
      `torch_vs_onnx_max` / `_mean`: the same call with the torch modules, in 0..255 units.
      "wrong": the same reference with one typical mistake (wrong conditioning scale, the mid
      residual dropped, guess mode off, start/end ignored), each with its distance to its
      correct case (`vs_correct`: max, mean); every one is outside the tolerance.
      Each case's `vs_scale_0` is its distance to the same call with conditioning scale 0 (what
      the ControlNet changes).
      "guess_ramp": torch.logspace(-1, 0, n) as float32 bit patterns for n = 7 and 13.

The ONNX ControlNet graph multiplies its residuals by its `conditioning_scale` input (diffusers
outside guess mode); in guess mode the reference (as sdrt) runs it with scale 1 and multiplies
residual k by float32(logspace(-1, 0, n + 1)[k] * scale), as diffusers' ControlNetModel does.

Conventions as tools/make_goldens.py: numpy latents `RandomState(seed).randn(count, 4, h/8, w/8)`
as float32 passed as `latents=`; pixels `(np * 255).round()` as uint8. The tolerance is the
project's image tolerance (max |diff| <= 2, mean <= 0.15 in 0..255 units).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_tiny_controlnet as mtc  # noqa: E402
from make_goldens import GOLDENS, write_json  # noqa: E402

OUT = GOLDENS / "controlnet"
INPUTS = OUT / "inputs"
TOL_MAX, TOL_MEAN = 2, 0.15

P_ASTRO = "a photo of an astronaut riding a horse on mars"
P_HARBOUR = "an oil painting of a harbour at dusk"


def control_images(w, h):
    """Two deterministic control pictures of w x h: "edges" (white outlines on black, as a canny
    map) and "depth" (a gray ramp with a brighter disc)."""
    from PIL import Image, ImageDraw

    edges = Image.new("RGB", (w, h), (0, 0, 0))
    d = ImageDraw.Draw(edges)
    d.ellipse([w * 0.2, h * 0.2, w * 0.75, h * 0.7], outline=(255, 255, 255), width=2)
    d.rectangle([w * 0.5, h * 0.45, w * 0.9, h * 0.9], outline=(255, 255, 255), width=2)
    d.line([0, h - 1, w - 1, 0], fill=(255, 255, 255), width=1)
    y, x = np.mgrid[0:h, 0:w]
    ramp = (40 + 150 * y / max(h - 1, 1)).astype(np.float64)
    disc = ((x - w * 0.35) ** 2 + (y - h * 0.4) ** 2) < (min(w, h) * 0.25) ** 2
    ramp[disc] = 235
    depth = Image.fromarray(np.repeat(ramp.round().astype(np.uint8)[..., None], 3, axis=2))
    return {"edges": edges, "depth": depth}


def case(name, model, prompt, seed, steps, guidance, nets, *, width=64, height=64, count=1,
         negative=None, guess_mode=False):
    """nets: [(controlnet name, control image name, scale, start, end)]."""
    return {
        "name": name, "model": model, "prompt": prompt, "negative_prompt": negative,
        "width": width, "height": height, "steps": steps, "guidance": guidance, "seed": seed,
        "count": count, "scheduler": None, "generator": "numpy", "eta": 0.0,
        "guess_mode": guess_mode,
        "controlnets": [{"name": n, "image": f"controlnet/inputs/{img}_{width}x{height}.png",
                         "scale": s, "start": a, "end": b} for n, img, s, a, b in nets],
    }


SD2 = "tiny-sd2-controlnet"
SDXL = "tiny-sdxl-controlnet"


def cases():
    sd = dict(steps=6, guidance=7.5)
    xl = dict(steps=5, guidance=5.0, width=64, height=96)
    return [
        case("sd2_canny", SD2, P_ASTRO, 42, nets=[("canny", "edges", 1.0, 0.0, 1.0)], **sd),
        case("sd2_canny_scale", SD2, P_HARBOUR, 7, nets=[("canny", "edges", 0.45, 0.0, 1.0)],
             count=2, negative="blurry", **sd),
        case("sd2_multi", SD2, P_ASTRO, 3, nets=[("canny", "edges", 1.0, 0.0, 1.0),
                                                 ("depth", "depth", 0.8, 0.0, 1.0)], **sd),
        case("sd2_guess", SD2, P_ASTRO, 42, nets=[("canny", "edges", 1.0, 0.0, 1.0)],
             guess_mode=True, **sd),
        case("sd2_start_end", SD2, P_HARBOUR, 11, nets=[("depth", "depth", 1.0, 0.2, 0.7)], **sd),
        # No classifier-free guidance: guess mode keeps its ramp, the batch is not halved.
        case("sd2_guess_no_cfg", SD2, P_HARBOUR, 5, nets=[("canny", "edges", 0.7, 0.0, 1.0),
                                                        ("depth", "depth", 0.5, 0.0, 0.8)],
             guess_mode=True, steps=6, guidance=1.0),
        case("sdxl_canny", SDXL, P_ASTRO, 42, nets=[("canny", "edges", 1.0, 0.0, 1.0)], **xl),
        case("sdxl_canny_scale", SDXL, P_HARBOUR, 7, nets=[("canny", "edges", 0.45, 0.0, 1.0)],
             negative="blurry", **xl),
        case("sdxl_multi", SDXL, P_ASTRO, 3, nets=[("canny", "edges", 1.0, 0.0, 1.0),
                                                   ("depth", "depth", 0.8, 0.0, 1.0)], **xl),
        case("sdxl_guess", SDXL, P_ASTRO, 42, nets=[("canny", "edges", 1.0, 0.0, 1.0)],
             guess_mode=True, **xl),
        case("sdxl_start_end", SDXL, P_HARBOUR, 11, nets=[("depth", "depth", 1.0, 0.2, 0.7)],
             **xl),
    ]


# The wrong variants: (name, the correct case, what changes).
WRONG = [
    ("wrong_scale_sd2_canny_scale", "sd2_canny_scale", {"scale": 1.0}),
    ("wrong_no_mid_sd2_canny", "sd2_canny", {"drop_mid": True}),
    ("wrong_guess_off_sd2_guess", "sd2_guess", {"guess_mode": False}),
    ("wrong_whole_range_sd2_start_end", "sd2_start_end", {"start": 0.0, "end": 1.0}),
    ("wrong_scale_sdxl_canny_scale", "sdxl_canny_scale", {"scale": 1.0}),
    ("wrong_no_mid_sdxl_canny", "sdxl_canny", {"drop_mid": True}),
    ("wrong_guess_off_sdxl_guess", "sdxl_guess", {"guess_mode": False}),
    ("wrong_whole_range_sdxl_start_end", "sdxl_start_end", {"start": 0.0, "end": 1.0}),
]


# --------------------------------------------------------------------------
# ONNX Runtime in diffusers' modules
# --------------------------------------------------------------------------
def session(path: Path):
    import onnxruntime

    o = onnxruntime.SessionOptions()
    o.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def f32(t):
    return t.detach().cpu().numpy().astype(np.float32)


class Patches:
    """Replaces the forward of a pipeline's modules by their ONNX graphs (undo with remove())."""

    def __init__(self, pipe, folder: Path, names, sdxl: bool):
        self.pipe, self.undo = pipe, []
        self.drop_mid = False
        encoders = [("text_encoder", pipe.text_encoder)]
        if sdxl:
            encoders.append(("text_encoder_2", pipe.text_encoder_2))
        for part, module in encoders:
            self.patch(module, "forward", self.text_forward(session(folder / part / "model.onnx")))
        unet = session(folder / "unet" / "model.onnx")
        self.patch(pipe.unet, "forward", self.unet_forward(unet, sdxl))
        nets = pipe.controlnet.nets if hasattr(pipe.controlnet, "nets") else [pipe.controlnet]
        for name, net in zip(names, nets):
            s = session(folder / "controlnet" / name / "model.onnx")
            self.patch(net, "forward", self.controlnet_forward(s, sdxl))
        vae = session(folder / "vae_decoder" / "model.onnx")
        self.patch(pipe.vae, "decode", lambda z, return_dict=False, generator=None:
                   (torch.from_numpy(vae.run(None, {"latent_sample": f32(z)})[0]),))

    def patch(self, module, attr, fn):
        setattr(module, attr, fn)
        self.undo.append((module, attr))

    def remove(self):
        for module, attr in self.undo:
            delattr(module, attr)

    @staticmethod
    def text_forward(s):
        names = [o.name for o in s.get_outputs()]

        class Out:
            def __init__(self, outs):
                self.first = torch.from_numpy(outs[0])
                self.hidden_states = tuple(torch.from_numpy(o) for n, o in zip(names, outs)
                                           if n.startswith("hidden_states."))

            def __getitem__(self, k):
                assert k == 0
                return self.first

        def forward(input_ids, attention_mask=None, output_hidden_states=None, **kw):
            return Out(s.run(None, {"input_ids": input_ids.numpy().astype(np.int64)}))

        return forward

    def unet_forward(self, s, sdxl):
        res = [i.name for i in s.get_inputs() if "additional_residual" in i.name]

        def forward(sample, timestep, encoder_hidden_states, timestep_cond=None,
                    cross_attention_kwargs=None, down_block_additional_residuals=None,
                    mid_block_additional_residual=None, added_cond_kwargs=None, return_dict=True):
            feeds = {"sample": f32(sample), "timestep": np.array(float(timestep), np.float32),
                     "encoder_hidden_states": f32(encoder_hidden_states)}
            if sdxl:
                feeds["text_embeds"] = f32(added_cond_kwargs["text_embeds"])
                feeds["time_ids"] = f32(added_cond_kwargs["time_ids"])
            residuals = [*down_block_additional_residuals, mid_block_additional_residual]
            if self.drop_mid:
                residuals[-1] = torch.zeros_like(residuals[-1])
            for n, r in zip(res, residuals):
                feeds[n] = f32(r)
            return (torch.from_numpy(s.run(None, feeds)[0]),)

        return forward

    @staticmethod
    def controlnet_forward(s, sdxl):
        def forward(sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale=1.0,
                    added_cond_kwargs=None, guess_mode=False, return_dict=True, **kw):
            feeds = {"sample": f32(sample), "timestep": np.array(float(timestep), np.float32),
                     "encoder_hidden_states": f32(encoder_hidden_states),
                     "controlnet_cond": f32(controlnet_cond),
                     "conditioning_scale": np.array(1.0 if guess_mode else conditioning_scale,
                                                    np.float32)}
            if sdxl:
                feeds["text_embeds"] = f32(added_cond_kwargs["text_embeds"])
                feeds["time_ids"] = f32(added_cond_kwargs["time_ids"])
            outs = [torch.from_numpy(o) for o in s.run(None, feeds)]
            if guess_mode:
                # diffusers' ControlNetModel.forward, guess mode.
                scales = torch.logspace(-1, 0, len(outs), device=sample.device)
                scales = scales * conditioning_scale
                outs = [o * sc for o, sc in zip(outs, scales)]
            return outs[:-1], outs[-1]

        return forward


# --------------------------------------------------------------------------
# pipelines
# --------------------------------------------------------------------------
def pipelines(workdir: Path):
    """{model: (pipe for one ControlNet per name, pipe for both)} with the torch parts."""
    from diffusers import (MultiControlNetModel, StableDiffusionControlNetPipeline,
                           StableDiffusionXLControlNetPipeline)

    sd, sd_cns = mtc.sd2_parts(workdir / "sd2")
    xl, xl_cns = mtc.sdxl_parts(workdir / "sdxl")
    out = {}
    for model, base, cns in [(SD2, sd, sd_cns), (SDXL, xl, xl_cns)]:
        def make(cn):
            if model == SD2:
                p = StableDiffusionControlNetPipeline(
                    vae=base.vae, text_encoder=base.text_encoder, tokenizer=base.tokenizer,
                    unet=base.unet, controlnet=cn, scheduler=base.scheduler, safety_checker=None,
                    feature_extractor=None, requires_safety_checker=False)
            else:
                p = StableDiffusionXLControlNetPipeline(
                    vae=base.vae, text_encoder=base.text_encoder, text_encoder_2=base.text_encoder_2,
                    tokenizer=base.tokenizer, tokenizer_2=base.tokenizer_2, unet=base.unet,
                    controlnet=cn, scheduler=base.scheduler, force_zeros_for_empty_prompt=True,
                    add_watermarker=False)
            p.set_progress_bar_config(disable=True)
            return p
        out[model] = {"single": {n: make(c) for n, c in zip(mtc.NAMES, cns)},
                      "multi": make(MultiControlNetModel(cns))}
    return out


def run(pipes, e, onnx=True, drop_mid=False, **change):
    from PIL import Image

    model = e["model"]
    sdxl = model == SDXL
    nets = e["controlnets"]
    names = [n["name"] for n in nets]
    pipe = pipes[model]["multi"] if len(nets) > 1 else pipes[model]["single"][names[0]]
    pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    patches = Patches(pipe, mtc.FIXTURES / model, names, sdxl) if onnx else None
    if patches:
        patches.drop_mid = drop_mid
    images = [Image.open(GOLDENS / n["image"]).convert("RGB") for n in nets]
    scales = [change.get("scale", n["scale"]) for n in nets]
    starts = [change.get("start", n["start"]) for n in nets]
    ends = [change.get("end", n["end"]) for n in nets]
    lat = np.random.RandomState(e["seed"]).randn(e["count"], 4, e["height"] // 8, e["width"] // 8)
    kw = dict(prompt=e["prompt"], negative_prompt=e["negative_prompt"], width=e["width"],
              height=e["height"], num_inference_steps=e["steps"], guidance_scale=e["guidance"],
              num_images_per_prompt=e["count"], latents=torch.from_numpy(lat.astype(np.float32)),
              output_type="np", guess_mode=change.get("guess_mode", e["guess_mode"]))
    if len(nets) == 1:
        kw.update(image=images[0], controlnet_conditioning_scale=scales[0],
                  control_guidance_start=starts[0], control_guidance_end=ends[0])
    else:
        kw.update(image=images, controlnet_conditioning_scale=scales,
                  control_guidance_start=starts, control_guidance_end=ends)
    try:
        with torch.no_grad():
            out = pipe(**kw).images
    finally:
        if patches:
            patches.remove()
    return [(np.asarray(o) * 255).round().astype(np.uint8) for o in out]


def dist(a, b):
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return int(d.max()), round(float(d.mean()), 4)


def save(img, fname):
    from PIL import Image

    Image.fromarray(img).save(GOLDENS / fname, optimize=False)


def main():
    import tempfile

    INPUTS.mkdir(parents=True, exist_ok=True)
    for w, h in [(64, 64), (64, 96)]:
        for k, img in control_images(w, h).items():
            img.save(INPUTS / f"{k}_{w}x{h}.png", optimize=False)
    with tempfile.TemporaryDirectory() as td:
        pipes = pipelines(Path(td))
        entries, results = [], {}
        for e in cases():
            imgs = run(pipes, e)
            tor = run(pipes, e, onnx=False)
            files = [f"controlnet/{e['name']}{'' if e['count'] == 1 else f'-{i}'}.png"
                     for i in range(e["count"])]
            for img, f in zip(imgs, files):
                save(img, f)
            e["files"] = files
            tv = [dist(a, b) for a, b in zip(imgs, tor)]
            e["torch_vs_onnx_max"] = max(m for m, _ in tv)
            e["torch_vs_onnx_mean"] = max(m for _, m in tv)
            results[e["name"]] = imgs
            entries.append(e)
            f = imgs[0].astype(np.float64)
            print(f"  {e['name']:20s} mean={f.mean():.1f} std={f.std():.1f} torch_vs_onnx={tv}")
        # No ControlNet effect would make every case equal its no-control image: measure it.
        for e in entries:
            plain = run(pipes, e, scale=0.0)
            e["vs_scale_0"] = list(dist(results[e["name"]][0], plain[0]))
        wrong = []
        by_name = {e["name"]: e for e in entries}
        for name, of, change in WRONG:
            e = dict(by_name[of])
            img = run(pipes, e, drop_mid=change.get("drop_mid", False),
                      **{k: v for k, v in change.items() if k != "drop_mid"})[0]
            fname = f"controlnet/{name}.png"
            save(img, fname)
            m, mean = dist(img, results[of][0])
            assert m > TOL_MAX or mean > TOL_MEAN, (name, m, mean)
            w = {k: v for k, v in e.items() if k not in ("files",)}
            w.update(name=name, of=of, change=change, files=[fname], vs_correct=[m, mean])
            wrong.append(w)
            print(f"  {name:32s} vs {of}: max {m} mean {mean}")
    ramps = {str(n): torch.logspace(-1, 0, n).numpy().astype(np.float32).view(np.uint32).tolist()
             for n in (7, 13)}
    write_json(GOLDENS / "controlnet.json", {"tolerance": {"max": TOL_MAX, "mean": TOL_MEAN},
                                             "images": entries, "wrong": wrong,
                                             "guess_ramp": ramps})


if __name__ == "__main__":
    main()
