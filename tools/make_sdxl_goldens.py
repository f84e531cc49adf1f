#!/usr/bin/env python3
"""Write the Stable Diffusion XL goldens the Rust tests compare against.

Run from the repository root, after tools/make_tiny_sdxl.py:

    /work/venv/bin/python tools/make_sdxl_goldens.py

Writes, deterministically (CPU provider):

  tests/goldens/sdxl.json, tests/goldens/sdxl/*.png
      images (and, for the base half of the base-to-refiner hand-off, latents) from optimum's
      ORTStableDiffusionXLPipeline, ORTStableDiffusionXLImg2ImgPipeline and
      ORTStableDiffusionXLInpaintPipeline on tests/fixtures/tiny-sdxl*, with every argument needed
      to reproduce them, what the UNet received (time ids, timesteps), and for two cases the
      reference text conditioning (encode_prompt) and token ids.
  tests/goldens/sdxl_sensitivity.json, tests/goldens/sdxl_sensitivity/*.png
      the WRONG images diffusers/optimum give for a non-square case under typical SDXL mistakes
      (swapped pad tokens, time ids as (w, h), SD's VAE scale, "" encoded instead of zeros), with
      their distance from the correct golden, each beyond the image tolerance.
  tests/goldens/README.md
      its "Stable Diffusion XL" section (replaced if present, else appended).

Conventions as tools/make_goldens.py (whose helpers it imports): numpy latents
`RandomState(seed).randn(count, 4, h / 8, w / 8)` as float32 passed as `latents=` (stochastic
schedulers continue that stream through `randn_tensor`), or a CPU `torch.Generator` seeded with
`seed`; pixels `(np * 255).round()` as uint8.
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
from make_goldens import GOLDENS, _bits, write_json  # noqa: E402
from make_scheduler_goldens import CLASSES  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
OUT_DIR = GOLDENS / "sdxl"
SENS_DIR = GOLDENS / "sdxl_sensitivity"

# The image tolerance the Rust tests use (0..255 units).
TOL_MAX = 2.0
TOL_MEAN = 0.15

PIPELINES = {
    "txt2img": "ORTStableDiffusionXLPipeline",
    "img2img": "ORTStableDiffusionXLImg2ImgPipeline",
    "inpaint": "ORTStableDiffusionXLInpaintPipeline",
}

I64 = "inputs/init_64.png"
M64 = "inputs/mask_64.png"
P_ASTRO = "a photo of an astronaut riding a horse on mars"
P_HARBOUR = "an oil painting of a harbour at dusk"


def case(name, mode, model, prompt, seed, steps, guidance, *, prompt_2=None, negative=None,
         negative_2=None, width=64, height=64, count=1, generator="torch", scheduler=None,
         overrides=None, strength=None, denoising_start=None, denoising_end=None,
         original_size=None, crops_coords_top_left=None, target_size=None,
         negative_original_size=None, negative_crops_coords_top_left=None, negative_target_size=None,
         aesthetic_score=None, negative_aesthetic_score=None, init=None, mask=None,
         image_latents_from=None, output_type="np", reference=False, note=None):
    """A sdxl.json row. Arguments left None are not passed (the pipeline's default applies)."""
    return {
        "name": name, "model": model, "mode": mode, "pipeline": PIPELINES[mode],
        "prompt": prompt, "prompt_2": prompt_2, "negative_prompt": negative,
        "negative_prompt_2": negative_2, "width": width, "height": height, "steps": steps,
        "guidance": guidance, "seed": seed, "count": count, "generator": generator,
        "scheduler": scheduler, "scheduler_overrides": overrides or {}, "eta": 0.0,
        "strength": strength, "denoising_start": denoising_start, "denoising_end": denoising_end,
        "original_size": original_size, "crops_coords_top_left": crops_coords_top_left,
        "target_size": target_size, "negative_original_size": negative_original_size,
        "negative_crops_coords_top_left": negative_crops_coords_top_left,
        "negative_target_size": negative_target_size, "aesthetic_score": aesthetic_score,
        "negative_aesthetic_score": negative_aesthetic_score, "init_image": init, "mask": mask,
        "image_latents_from": image_latents_from, "output_type": output_type,
        "files": [], "note": note, "_reference": reference,
    }


def cases():
    B, NZ, R, INP = "tiny-sdxl", "tiny-sdxl-nozeros", "tiny-sdxl-refiner", "tiny-sdxl-inpaint"
    c = [
        # --- base txt2img: the model's own scheduler (Euler), both generators -----------------
        case("base_euler_numpy_5", "txt2img", B, P_ASTRO, 42, 5, 5.0, generator="numpy"),
        case("base_euler_torch_5", "txt2img", B, P_ASTRO, 43, 5, 5.0),
        # schedulers (sdrt names of make_scheduler_goldens.CLASSES)
        case("base_eulera_numpy_5", "txt2img", B, "a castle in the clouds", 44, 5, 5.0,
             generator="numpy", scheduler="euler-a"),
        case("base_eulera_torch_4", "txt2img", B, "a castle in the clouds", 45, 4, 5.0, scheduler="euler-a"),
        case("base_dpmpp2mkarras_numpy_6", "txt2img", B, "a snowy mountain village", 46, 6, 5.0,
             generator="numpy", scheduler="dpm++2m-karras"),
        case("base_dpmpp2mkarras_torch_6", "txt2img", B, "a snowy mountain village", 47, 6, 5.0,
             scheduler="dpm++2m-karras"),
        # non-square (width 64, height 96): the sensitivity cases' base; and 96x64
        case("base_euler_numpy_64x96", "txt2img", B, P_ASTRO, 48, 5, 5.0, generator="numpy",
             width=64, height=96),
        case("base_euler_torch_96x64", "txt2img", B, "a wide beach at sunset", 49, 4, 5.0,
             width=96, height=64),
        # batch
        case("base_euler_numpy_count2", "txt2img", B, "two cats on a sofa", 50, 4, 5.0,
             generator="numpy", count=2),
        case("base_eulera_torch_count2", "txt2img", B, "two cats on a sofa", 51, 4, 5.0,
             scheduler="euler-a", count=2),
        # negative prompts: None (force_zeros: zero embeddings), "" (encoded), text
        case("base_negative_empty_string", "txt2img", B, P_ASTRO, 42, 5, 5.0, generator="numpy",
             negative="", note="the same call as base_euler_numpy_5 but negative_prompt=\"\": encoded, not zeros"),
        case("base_negative_text", "txt2img", B, "a red cube on a wooden table", 52, 5, 7.0,
             generator="numpy", negative="blurry, low quality"),
        case("base_prompt2_negative2", "txt2img", B, "a red cube on a wooden table", 53, 5, 7.0,
             generator="numpy", prompt_2="a watercolor painting", negative="blurry",
             negative_2="photograph, grey", reference=True),
        case("base_prompt2_only", "txt2img", B, "a lighthouse at night", 54, 4, 5.0,
             generator="torch", prompt_2="stormy sea, dramatic light",
             note="prompt_2 only: negative None -> zeros; encoder 1 sees prompt, encoder 2 prompt_2"),
        case("base_guidance1_numpy", "txt2img", B, P_ASTRO, 55, 4, 1.0, generator="numpy",
             note="guidance 1.0: no classifier-free guidance, no negative branch at all"),
        # micro-conditioning
        case("base_microcond", "txt2img", B, "a portrait of an old sailor", 56, 5, 5.0,
             generator="numpy", original_size=(256, 192), crops_coords_top_left=(16, 8),
             target_size=(64, 80), negative_original_size=(512, 512),
             negative_crops_coords_top_left=(4, 2), negative_target_size=(64, 64)),
        case("base_microcond_positive_only", "txt2img", B, "a portrait of an old sailor", 57, 5, 5.0,
             generator="torch", original_size=(1024, 1024), crops_coords_top_left=(0, 32),
             target_size=(128, 96), width=64, height=96,
             note="negative time ids = positive ones (no negative_* given)"),
        case("base_microcond_negative_original_only", "txt2img", B, "a portrait of an old sailor", 58, 5,
             5.0, generator="numpy", negative_original_size=(512, 512),
             note="diffusers uses negative_* only when BOTH negative_original_size and "
                  "negative_target_size are given: here the negative time ids equal the positive ones"),
        case("base_microcond_count2", "txt2img", B, "a portrait of an old sailor", 59, 4, 5.0,
             generator="numpy", count=2, original_size=(256, 192), target_size=(64, 80),
             negative_original_size=(512, 512), negative_target_size=(64, 64),
             note="diffusers repeats cat([neg, pos]) time ids as a block (neg, pos, neg, pos) while "
                  "the embeddings are (neg, neg, pos, pos): see unet_time_ids"),
        # Turbo-style: 1 step, no CFG, trailing spacing (EulerDiscrete)
        case("turbo_euler_trailing_1_g0_numpy", "txt2img", B, "a cup of coffee", 60, 1, 0.0,
             generator="numpy", scheduler="euler", overrides={"timestep_spacing": "trailing"}),
        case("turbo_euler_trailing_1_g0_torch", "txt2img", B, "a cup of coffee", 61, 1, 0.0,
             scheduler="euler", overrides={"timestep_spacing": "trailing"}),
        case("turbo_euler_trailing_4_g0_numpy_96x64", "txt2img", B, "a cup of tea", 62, 4, 0.0,
             generator="numpy", scheduler="euler", overrides={"timestep_spacing": "trailing"},
             width=96, height=64),
        # force_zeros_for_empty_prompt false: negative None encodes ""
        case("nozeros_euler_numpy_5", "txt2img", NZ, P_ASTRO, 42, 5, 5.0, generator="numpy",
             reference=True, note="the same call as base_euler_numpy_5 on the nozeros model: equals "
                                  "base_negative_empty_string"),
        # --- img2img (base) ---------------------------------------------------------------------
        case("i2i_euler_6_s0.5", "img2img", B, P_HARBOUR, 70, 6, 5.0, init=I64, strength=0.5),
        case("i2i_euler_6_s0.8_crops", "img2img", B, P_HARBOUR, 71, 6, 5.0, init=I64, strength=0.8,
             negative="blurry", crops_coords_top_left=(8, 4), negative_crops_coords_top_left=(2, 2),
             note="img2img's negative time ids take the POSITIVE crops_coords_top_left "
                  "(negative_crops_coords_top_left is read only with requires_aesthetics_score)"),
        case("i2i_dpmpp2mkarras_6_s0.6_count2", "img2img", B, P_HARBOUR, 72, 6, 5.0, init=I64,
             strength=0.6, scheduler="dpm++2m-karras", count=2),
        # --- base -> refiner hand-off ("ensemble of experts") -----------------------------------
        case("handoff_base_6_end0.8", "txt2img", B, P_ASTRO, 80, 6, 5.0, generator="numpy",
             denoising_end=0.8, output_type="latent",
             note="output_type latent: the UNet-space latents (not divided by the VAE scale) in latents_bits"),
        case("handoff_refiner_6_start0.8", "img2img", R, P_ASTRO, 81, 6, 5.0, denoising_start=0.8,
             image_latents_from="handoff_base_6_end0.8",
             note="image = the latents of handoff_base_6_end0.8 (4 channels: not VAE-encoded, no noise "
                  "added); Euler draws nothing, the generator is unused"),
        # refiner alone (aesthetic score defaults 6.0 / 2.5; strength its default 0.3, passed)
        case("refiner_i2i_10_s0.3", "img2img", R, P_HARBOUR, 82, 10, 5.0, init=I64, strength=0.3),
        case("refiner_i2i_6_s0.5_count2", "img2img", R, P_HARBOUR, 84, 6, 5.0, init=I64,
             strength=0.5, count=2,
             note="img2img repeats each time-id row first (neg, neg, pos, pos), unlike txt2img: "
                  "the aesthetic scores 2.5 / 6.0 make the rows differ"),
        case("refiner_i2i_6_s0.6_aesthetic", "img2img", R, P_HARBOUR, 83, 6, 5.0, init=I64,
             strength=0.6, aesthetic_score=8.0, negative_aesthetic_score=1.5, negative="blurry",
             original_size=(512, 384), negative_original_size=(128, 128)),
        # --- inpaint: 9-channel UNet, and the base (4-channel) UNet with the blend --------------
        case("inp9_euler_6_s1", "inpaint", INP, "a red balloon", 90, 6, 5.0, init=I64, mask=M64, strength=1.0),
        case("inp9_euler_6_s0.75", "inpaint", INP, "a red balloon", 91, 6, 5.0, init=I64, mask=M64,
             strength=0.75, negative="grey"),
        case("inp9_euler_6_default_strength", "inpaint", INP, "a bunch of flowers", 92, 6, 5.0,
             init=I64, mask=M64, strength=0.9999,
             note="the SDXL inpaint pipeline's default strength 0.9999: int(6 * 0.9999) = 5 steps, and "
                  "the latents are the image latents noised to timesteps[1], not pure noise"),
        case("inp4_euler_6_s1", "inpaint", B, "a red balloon", 93, 6, 5.0, init=I64, mask=M64, strength=1.0),
        case("inp4_euler_6_s0.75_count2", "inpaint", B, "a bunch of flowers", 94, 6, 5.0, init=I64,
             mask=M64, strength=0.75, count=2, negative_original_size=(128, 128),
             note="negative_original_size alone does apply here (img2img/inpaint default each negative "
                  "size to its positive); rows repeated neg, neg, pos, pos"),
    ]
    names = [e["name"] for e in c]
    assert len(names) == len(set(names)), "duplicate case names"
    return c


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------
def load_pipe(mode, model):
    import optimum.onnxruntime as ortmod

    pipe = getattr(ortmod, PIPELINES[mode]).from_pretrained(
        str(FIXTURES / model), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    assert pipe.watermark is None, "invisible-watermark is installed: it would mark every image"
    return pipe, type(pipe.scheduler), pipe.scheduler.config


class UnetRecorder:
    """Wraps the ORT UNet's forward: keeps the first call's conditioning and every timestep."""

    def __init__(self, unet):
        self.unet = unet
        self.calls = []
        self.original = unet.forward
        unet.forward = self

    def __call__(self, sample, timestep, encoder_hidden_states, **kw):
        added = kw.get("added_cond_kwargs") or {}
        self.calls.append({
            "timestep": timestep.detach().clone(),
            "encoder_hidden_states": encoder_hidden_states.detach().clone() if not self.calls else None,
            "text_embeds": added["text_embeds"].detach().clone() if not self.calls else None,
            "time_ids": added["time_ids"].detach().clone() if not self.calls else None,
            "sample_shape": list(sample.shape),
        })
        return self.original(sample, timestep, encoder_hidden_states, **kw)

    def remove(self):
        self.unet.forward = self.original


def call_kwargs(e, pipe, latents_by_name):
    from PIL import Image

    mode, count, w, h = e["mode"], e["count"], e["width"], e["height"]
    kw = dict(prompt=e["prompt"], prompt_2=e["prompt_2"], negative_prompt=e["negative_prompt"],
              negative_prompt_2=e["negative_prompt_2"], num_inference_steps=e["steps"],
              guidance_scale=e["guidance"], num_images_per_prompt=count, eta=e["eta"],
              output_type=e["output_type"])
    for k in ("denoising_start", "denoising_end", "strength", "aesthetic_score", "negative_aesthetic_score"):
        if e[k] is not None:
            kw[k] = e[k]
    for k in ("original_size", "crops_coords_top_left", "target_size", "negative_original_size",
              "negative_crops_coords_top_left", "negative_target_size"):
        if e[k] is not None:
            kw[k] = tuple(e[k])
    if mode in ("txt2img", "inpaint"):
        kw.update(width=w, height=h)
    if e["init_image"] is not None:
        image = Image.open(GOLDENS / e["init_image"]).convert("RGB")
        assert image.size == (w, h), (image.size, w, h)
        kw["image"] = image
    if e["image_latents_from"] is not None:
        kw["image"] = latents_by_name[e["image_latents_from"]].clone()
    if mode == "inpaint":
        mask = Image.open(GOLDENS / e["mask"])
        assert mask.mode == "L" and mask.size == (w, h)
        kw["mask_image"] = mask
    return kw


def run_case(pipe, sched_cls, base_config, e, latents_by_name, patch=None):
    """One case through optimum's pipeline; returns (uint8 images or float32 latents, recorder)."""
    import diffusers

    over = dict(e["scheduler_overrides"])
    if e["scheduler"] is not None:
        class_name, extra = CLASSES[e["scheduler"]]
        pipe.scheduler = getattr(diffusers, class_name).from_config(base_config, **extra, **over)
    else:
        pipe.scheduler = sched_cls.from_config(base_config, **over)
    kw = call_kwargs(e, pipe, latents_by_name)
    if patch is not None:
        kw = patch(kw)
    module = sys.modules[type(pipe.scheduler).__module__]
    original = getattr(module, "randn_tensor", None)
    count, w, h = e["count"], e["width"], e["height"]
    if e["generator"] == "numpy":
        assert e["mode"] == "txt2img", "numpy latents only where the pipeline takes latents="
        rs = np.random.RandomState(e["seed"])
        kw["latents"] = torch.from_numpy(rs.randn(count, 4, h // 8, w // 8).astype(np.float32))
        if original is not None:
            module.randn_tensor = lambda shape, *a, **k: torch.from_numpy(rs.randn(*shape).astype(np.float32))
    else:
        kw["generator"] = torch.Generator("cpu").manual_seed(e["seed"])
    rec = UnetRecorder(pipe.unet)
    try:
        out = pipe(**kw).images
    finally:
        rec.remove()
        if original is not None:
            module.randn_tensor = original
    if e["output_type"] == "latent":
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32, type(out)
        assert tuple(out.shape) == (count, 4, h // 8, w // 8), out.shape
        return out.detach().clone(), rec
    images = np.asarray(out)
    assert images.shape == (count, h, w, 3), images.shape
    return (images * 255).round().astype("uint8"), rec


def uncond_kind(e, pipe):
    if e["guidance"] <= 1.0:
        return None
    if e["negative_prompt"] is None and pipe.config.force_zeros_for_empty_prompt:
        return "zeros"
    return "encoded"


def resolved(e, pipe, rec):
    """What the UNet received, for the row."""
    first = rec.calls[0]
    cfg = e["guidance"] > 1.0
    n = e["count"] * (2 if cfg else 1)
    ehs, te, ti = first["encoder_hidden_states"], first["text_embeds"], first["time_ids"]
    assert ehs.shape[0] == te.shape[0] == ti.shape[0] == n, (ehs.shape, te.shape, ti.shape, n)
    assert ti.dtype == torch.float32 and te.dtype == torch.float32 and ehs.dtype == torch.float32
    kind = uncond_kind(e, pipe)
    if kind == "zeros":
        half = e["count"]
        assert not ehs[:half].any() and not te[:half].any(), "expected zero negative embeddings"
    elif kind == "encoded":
        assert ehs[: e["count"]].abs().sum() > 0
    return {
        "uncond": kind,
        "unet_batch": n,
        "unet_time_ids": ti.numpy().tolist(),
        "unet_timesteps": [float(c["timestep"]) for c in rec.calls],
        "timestep_dtype": str(rec.calls[0]["timestep"].dtype).replace("torch.", ""),
        "unet_sample_shape": rec.calls[0]["sample_shape"],
        "init_noise_sigma": float(pipe.scheduler.init_noise_sigma),
    }


def tensor_entry(t):
    t = t.detach().to(torch.float32)
    return {"shape": list(t.shape), "bits": _bits(t)}


def reference(e, pipe):
    """encode_prompt's four tensors and the UNet's time ids (cat([negative, positive])), plus
    both tokenizers' ids for every text the case encodes."""
    pe, npe, ppe, nppe = pipe.encode_prompt(
        prompt=e["prompt"], prompt_2=e["prompt_2"], device=torch.device("cpu"), num_images_per_prompt=1,
        do_classifier_free_guidance=e["guidance"] > 1.0, negative_prompt=e["negative_prompt"],
        negative_prompt_2=e["negative_prompt_2"])
    texts = {
        "tokenizer": {"prompt": e["prompt"],
                      "negative_prompt": e["negative_prompt"] or ""},
        "tokenizer_2": {"prompt_2": e["prompt_2"] or e["prompt"],
                        "negative_prompt_2": e["negative_prompt_2"] or e["negative_prompt"] or ""},
    }
    ids = {}
    for tk, d in texts.items():
        tok = getattr(pipe, tk)
        ids[tk] = {"pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id,
                   "ids": {k: {"text": v, "ids": tok(v, padding="max_length", max_length=tok.model_max_length,
                                                    truncation=True).input_ids}
                           for k, v in d.items()}}
    check_graph_outputs(e, ids, pe, npe, ppe, nppe)
    return {
        "prompt_embeds": tensor_entry(pe),
        "negative_prompt_embeds": tensor_entry(npe),
        "pooled_prompt_embeds": tensor_entry(ppe),
        "negative_pooled_prompt_embeds": tensor_entry(nppe),
        "token_ids": ids,
    }, (pe, npe, ppe, nppe)


def check_graph_outputs(e, ids, pe, npe, ppe, nppe):
    """encode_prompt's tensors are, bit for bit, the text encoder graphs' `hidden_states.<L-1>`
    (encoder 1 then 2) and encoder 2's `text_embeds`, run directly with onnxruntime on the ids."""
    import onnxruntime

    outs = {}
    for part, tk in (("text_encoder", "tokenizer"), ("text_encoder_2", "tokenizer_2")):
        folder = FIXTURES / e["model"] / part
        layers = json.loads((folder / "config.json").read_text())["num_hidden_layers"]
        s = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        names = [o.name for o in s.get_outputs()]
        for which, d in ids[tk]["ids"].items():
            got = dict(zip(names, s.run(None, {"input_ids": np.array([d["ids"]], np.int64)})))
            outs[(part, which.replace("_2", ""))] = (got[f"hidden_states.{layers - 1}"], got.get("text_embeds"))
    for kind, emb, pooled in (("prompt", pe, ppe), ("negative_prompt", npe, nppe)):
        h1, _ = outs[("text_encoder", kind)]
        h2, t2 = outs[("text_encoder_2", kind)]
        if kind == "negative_prompt" and e["negative_prompt"] is None and uncond_is_zeros(e):
            continue
        assert np.array_equal(np.concatenate([h1, h2], -1), emb.numpy()), (e["name"], kind)
        assert np.array_equal(t2, pooled.numpy()), (e["name"], kind)


def uncond_is_zeros(e):
    return json.loads((FIXTURES / e["model"] / "model_index.json").read_text())["force_zeros_for_empty_prompt"]


def image_files(name, count, folder="sdxl"):
    return [f"{folder}/{name}.png" if count == 1 else f"{folder}/{name}-{i}.png" for i in range(count)]


def save_pngs(imgs, files):
    from PIL import Image

    for img, fname in zip(imgs, files):
        Image.fromarray(img).save(GOLDENS / fname, optimize=False)
        back = np.asarray(Image.open(GOLDENS / fname).convert("RGB"))
        assert np.array_equal(back, img), fname


def make_images():
    from PIL import Image

    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    OUT_DIR.mkdir(parents=True)
    pipes, results, latents_by_name, entries = {}, {}, {}, []
    for e in cases():
        key = (e["mode"], e["model"])
        if key not in pipes:
            pipes[key] = load_pipe(*key)
        pipe, sched_cls, base_config = pipes[key]
        assert type(pipe).__name__ == e["pipeline"]
        out, rec = run_case(pipe, sched_cls, base_config, e, latents_by_name)
        e.update(resolved(e, pipe, rec))
        e["scheduler_class"] = type(pipe.scheduler).__name__
        e["force_zeros_for_empty_prompt"] = bool(pipe.config.force_zeros_for_empty_prompt)
        e["requires_aesthetics_score"] = bool(pipe.config.get("requires_aesthetics_score", False))
        if e["output_type"] == "latent":
            latents_by_name[e["name"]] = out
            e["latents"] = tensor_entry(out)
            desc = f"latents mean={out.mean():.3f} std={out.std():.3f}"
        else:
            e["files"] = image_files(e["name"], e["count"])
            save_pngs(out, e["files"])
            results[e["name"]] = out
            f = out.astype(np.float64)
            desc = f"mean={f.mean():.1f} std={f.std():.1f}"
            if e["init_image"] is not None:
                init = np.asarray(Image.open(GOLDENS / e["init_image"]).convert("RGB")).astype(np.float64)
                desc += f" |img-init|={np.abs(f - init[None]).mean():.1f}"
        if e.pop("_reference"):
            ref, tensors = reference(e, pipe)
            first = rec.calls[0]
            # The UNet saw exactly cat([negative, positive]) of what encode_prompt returns.
            pe, npe, ppe, nppe = tensors
            assert torch.equal(first["encoder_hidden_states"], torch.cat([npe, pe])), e["name"]
            assert torch.equal(first["text_embeds"], torch.cat([nppe, ppe])), e["name"]
            ref["add_time_ids"] = tensor_entry(first["time_ids"])
            e["reference"] = ref
        entries.append(e)
        print(f"  {e['name']:40s} {e['scheduler_class']:30s} uncond={e['uncond']} steps_run="
              f"{len(e['unet_timesteps'])} {desc}")
    sanity(pipes, entries, results, latents_by_name)
    write_json(GOLDENS / "sdxl.json", entries, indent=2)
    print(f"sdxl: {len(entries)} cases, {sum(len(e['files']) for e in entries)} images")
    return pipes, entries, results, latents_by_name


def sanity(pipes, entries, results, latents_by_name):
    by = {e["name"]: e for e in entries}

    def rerun(name, **changes):
        e = dict(by[name], **changes)
        pipe, sched_cls, base_config = pipes[(e["mode"], e["model"])]
        return run_case(pipe, sched_cls, base_config, e, latents_by_name)[0]

    # Determinism: the first case of each pipeline again.
    seen = set()
    for e in entries:
        key = (e["mode"], e["model"])
        if key in seen or e["output_type"] != "np":
            continue
        seen.add(key)
        assert np.array_equal(rerun(e["name"]), results[e["name"]]), e["name"]
    print("sanity: rerun of the first case of each pipeline/model is bit-identical")
    # force_zeros false + None == force_zeros true + "" (both encode "").
    assert np.array_equal(results["nozeros_euler_numpy_5"], results["base_negative_empty_string"])
    print("sanity: nozeros with negative None == base with negative \"\" (bit-identical)")
    d = np.abs(results["base_euler_numpy_5"].astype(float) - results["base_negative_empty_string"]).mean()
    print(f"sanity: base negative None (zeros) vs \"\": mean |diff| {d:.2f}")
    assert np.array_equal(rerun("base_microcond_negative_original_only", negative_original_size=None),
                          results["base_microcond_negative_original_only"])
    print("sanity: negative_original_size alone changes nothing (diffusers ignores it without negative_target_size)")
    d = np.abs(rerun("base_prompt2_only", prompt_2=None).astype(float) - results["base_prompt2_only"]).mean()
    print(f"sanity: base_prompt2_only vs prompt_2=None: mean |diff| {d:.2f}")
    d = np.abs(rerun("refiner_i2i_10_s0.3", aesthetic_score=6.0, negative_aesthetic_score=2.5).astype(float)
               - results["refiner_i2i_10_s0.3"]).max()
    assert d == 0, "aesthetic defaults are not 6.0 / 2.5"
    print("sanity: refiner aesthetic_score defaults are 6.0 / 2.5")


# --------------------------------------------------------------------------
# sensitivity: the wrong images typical mistakes give
# --------------------------------------------------------------------------
SENS_BASE = "base_euler_numpy_64x96"


def mistakes():
    """(name, description, setup(pipe) -> undo, patch(kwargs) -> kwargs)."""

    def swap_pads(pipe):
        a, b = pipe.tokenizer.pad_token, pipe.tokenizer_2.pad_token
        pipe.tokenizer.pad_token, pipe.tokenizer_2.pad_token = b, a
        assert pipe.tokenizer.pad_token_id == 0 and pipe.tokenizer_2.pad_token_id == 49407

        def undo():
            pipe.tokenizer.pad_token, pipe.tokenizer_2.pad_token = a, b
        return undo

    def sd_vae_scale(pipe):
        cfg = pipe.vae_decoder
        old = cfg.config.scaling_factor
        cfg.register_to_config(scaling_factor=0.18215)
        assert pipe.vae.config.scaling_factor == 0.18215

        def undo():
            cfg.register_to_config(scaling_factor=old)
        return undo

    def wh(kw):
        return dict(kw, original_size=(kw["width"], kw["height"]), target_size=(kw["width"], kw["height"]))

    return [
        ("swapped_pad_tokens",
         "tokenizer padded with `!` (id 0) and tokenizer_2 with `<|endoftext|>` (id 49407): the pad tokens swapped",
         swap_pads, None),
        ("time_ids_wh",
         "time ids built from (width, height) instead of (height, width): original_size and target_size "
         "passed as (w, h) = (64, 96), i.e. time ids [64, 96, 0, 0, 64, 96] instead of [96, 64, 0, 0, 96, 64]",
         None, wh),
        ("vae_scale_sd",
         "latents divided by SD's VAE scaling factor 0.18215 instead of SDXL's 0.13025 before decoding",
         sd_vae_scale, None),
        ("empty_string_not_zeros",
         "negative prompt None with force_zeros_for_empty_prompt true encoded as \"\" instead of zeros "
         "(negative_prompt=\"\" passed)",
         None, lambda kw: dict(kw, negative_prompt="")),
    ]


def make_sensitivity(pipes, entries, results, latents_by_name):
    if SENS_DIR.exists():
        shutil.rmtree(SENS_DIR)
    SENS_DIR.mkdir(parents=True)
    base = next(e for e in entries if e["name"] == SENS_BASE)
    assert base["width"] != base["height"] and base["uncond"] == "zeros"
    pipe, sched_cls, base_config = pipes[(base["mode"], base["model"])]
    good = results[SENS_BASE].astype(np.float64)
    rows = []
    for name, desc, setup, patch in mistakes():
        undo = setup(pipe) if setup else None
        try:
            e = dict(base, files=[])
            wrong, rec = run_case(pipe, sched_cls, base_config, e, latents_by_name, patch=patch)
            time_ids = rec.calls[0]["time_ids"].numpy().tolist()
        finally:
            if undo:
                undo()
        files = image_files(f"{SENS_BASE}-{name}", 1, "sdxl_sensitivity")
        save_pngs(wrong, files)
        diff = np.abs(wrong.astype(np.float64) - good)
        mx, mean = float(diff.max()), float(diff.mean())
        row = {
            "name": name, "mistake": desc, "golden": SENS_BASE, "golden_files": base["files"],
            "files": files, "max_abs_diff": mx, "mean_abs_diff": round(mean, 6),
            "tolerance": {"max_abs_diff": TOL_MAX, "mean_abs_diff": TOL_MEAN},
            "beyond_tolerance": bool(mx > TOL_MAX and mean > TOL_MEAN),
            "unet_time_ids": time_ids,
        }
        rows.append(row)
        print(f"  sensitivity {name:24s} max |diff| {mx:6.1f}  mean |diff| {mean:7.3f}  "
              f"{'beyond' if row['beyond_tolerance'] else 'WITHIN'} tolerance")
    # The correct pipeline state is back: the golden again.
    again = run_case(pipe, sched_cls, base_config, dict(base, files=[]), latents_by_name)[0]
    assert np.array_equal(again, results[SENS_BASE]), "a mistake's patch leaked"
    failing = [r["name"] for r in rows if not r["beyond_tolerance"]]
    assert not failing, f"mistakes within tolerance: {failing} (raise the fixture's weight gains)"
    write_json(GOLDENS / "sdxl_sensitivity.json", rows, indent=2)
    return rows


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------
README_HEADING = "## Stable Diffusion XL (sdxl.json)"


def write_readme(entries, sens_rows):
    names = [e["name"] for e in entries]
    refs = [e for e in entries if "reference" in e]
    r0 = refs[0]["reference"]
    shape = lambda k: str(r0[k]["shape"])  # noqa: E731
    te = {}
    for part in ("text_encoder", "text_encoder_2"):
        cfg = json.loads((FIXTURES / "tiny-sdxl" / part / "config.json").read_text())
        te[part] = f"hidden_states.{cfg['num_hidden_layers'] - 1}"
    cases_line = textwrap.fill(f"Cases ({len(names)}): " + ", ".join(f"`{n}`" for n in names) + ".",
                               width=98, initial_indent="  ", subsequent_indent="  ",
                               break_on_hyphens=False, break_long_words=False)
    sens = "\n".join(f"  - `{r['name']}`: max |diff| {r['max_abs_diff']:g}, mean {r['mean_abs_diff']:.3f}."
                     for r in sens_rows)
    text = f"""{README_HEADING}

Written by `python tools/make_sdxl_goldens.py` after `python tools/make_tiny_sdxl.py` (fixtures
`tiny-sdxl`, `tiny-sdxl-nozeros`, `tiny-sdxl-refiner`, `tiny-sdxl-inpaint`; see their READMEs).
Everything on the CPU provider, deterministic; `tools/make_goldens.py` does not write this section
(rerun `make_sdxl_goldens.py` after it to restore it).

    /work/venv/bin/python tools/make_tiny_sdxl.py
    /work/venv/bin/python tools/make_sdxl_goldens.py

- `sdxl.json`, `sdxl/*.png`: a list of cases through optimum's `ORTStableDiffusionXLPipeline`
  (`mode: txt2img`), `ORTStableDiffusionXLImg2ImgPipeline` (`img2img`) and
  `ORTStableDiffusionXLInpaintPipeline` (`inpaint`), named in `pipeline`, on the fixture `model`.
  Pixels and file names as for `images.json` (`<name>.png`, `<name>-<i>.png` when `count > 1`).
  Keys of every row (a `null` argument is **not passed**, so the pipeline's default applies):
  - the call: `prompt`, `prompt_2`, `negative_prompt`, `negative_prompt_2` (`null` = None, which
    differs from `""`: with `force_zeros_for_empty_prompt` a None negative gives zero embeddings,
    `""` is encoded), `width`, `height` (img2img: the picture's, not passed), `steps`, `guidance`,
    `seed`, `count` (`num_images_per_prompt`), `generator` (`numpy` / `torch`, as in
    `images.json`; numpy only for txt2img), `scheduler` (an sdrt name of
    `make_scheduler_goldens.CLASSES`, or null for the model's EulerDiscreteScheduler) and
    `scheduler_overrides` (`{{}}` or e.g. `{{"timestep_spacing": "trailing"}}`): `pipe.scheduler =
    <Class>.from_config(pipe.scheduler.config, **extra, **overrides)`, `eta` (0.0), `strength`,
    `denoising_start`, `denoising_end`, the micro-conditioning `original_size`,
    `crops_coords_top_left`, `target_size`, `negative_original_size`,
    `negative_crops_coords_top_left`, `negative_target_size` (`[a, b]` as passed: (height, width)
    and (top, left)), `aesthetic_score`, `negative_aesthetic_score`, `init_image`, `mask` (paths
    in this folder), `image_latents_from` (the name of the case whose `latents` are passed as
    `image=`), `output_type` (`np`, or `latent` for the base half of the hand-off), `files`, `note`.
  - what happened (read back from the pipeline and the UNet's inputs): `scheduler_class`,
    `force_zeros_for_empty_prompt`, `requires_aesthetics_score` (the model's config), `uncond`
    (`zeros`, `encoded`, or null without CFG, i.e. `guidance <= 1`), `unet_batch`,
    `unet_time_ids` (the `time_ids` rows of the first UNet call, float32: base `[orig_h, orig_w,
    crop_top, crop_left, target_h, target_w]`, refiner `[orig_h, orig_w, crop_top, crop_left,
    aesthetic_score]`; with CFG the negative rows first), `unet_timesteps` (every UNet call's
    timestep, as a number), `timestep_dtype` (the tensor's dtype as the pipeline passed it),
    `unet_sample_shape`, `init_noise_sigma`.
  - `latents` (`output_type: latent` only): `{{"shape", "bits"}}`, float32 bit patterns in C order.
  - `reference` (cases {", ".join(f"`{e['name']}`" for e in refs)}): `prompt_embeds`
    `{shape("prompt_embeds")}` (encoder 1's `{te["text_encoder"]}` then encoder 2's `{te["text_encoder_2"]}`),
    `negative_prompt_embeds`, `pooled_prompt_embeds` `{shape("pooled_prompt_embeds")}` (encoder 2's `text_embeds`),
    `negative_pooled_prompt_embeds`, `add_time_ids` `{shape("add_time_ids")}` (negative row, positive row) as
    `{{"shape", "bits"}}`, from `pipe.encode_prompt(...)` (checked equal to what the UNet got),
    and `token_ids`: per tokenizer its `pad_token`, `pad_token_id` and the 77 ids of each text it
    encodes (`tokenizer` pads with 49407 `<|endoftext|>`, `tokenizer_2` with 0 `!`).

{cases_line}

  What diffusers does that the cases pin down:
  - Text: each encoder's `hidden_states[-2]` (the graphs' `hidden_states.<L-1>`), concatenated
    (encoder 1 first); the pooled embedding is text encoder 2's `text_embeds`. `prompt_2` /
    `negative_prompt_2` default to `prompt` / `negative_prompt`. Negative: None and
    `force_zeros_for_empty_prompt` -> zeros for both the embeddings and the pooled embedding;
    otherwise `negative_prompt or ""` is encoded (`nozeros_euler_numpy_5` equals
    `base_negative_empty_string` bit for bit).
  - Base time ids: `original_size` and `target_size` default to `(height, width)`, crops to
    `(0, 0)`; the negative row uses `negative_*` only when both `negative_original_size` and
    `negative_target_size` are given (else it equals the positive row:
    `base_microcond_negative_original_only`). With `count > 1` the `[negative, positive]` rows are
    repeated as a block (`neg, pos, neg, pos`) while the embeddings are `neg, neg, pos, pos`
    (`base_microcond_count2` keeps that pairing: see its `unet_time_ids`). The img2img and inpaint
    pipelines repeat each row first (`neg, neg, pos, pos`: `refiner_i2i_6_s0.5_count2`,
    `inp4_euler_6_s0.75_count2`).
  - img2img / inpaint time ids (`_get_add_time_ids` of those pipelines): the negative row is
    `negative_original_size (default original_size) + crops_coords_top_left (the POSITIVE crops) +
    negative_target_size (default target_size)`; with `requires_aesthetics_score` (the refiner):
    `original_size + crops + (aesthetic_score,)` and `negative_original_size +
    negative_crops_coords_top_left + (negative_aesthetic_score,)`, defaults 6.0 and 2.5;
    `original_size`/`target_size` default to the picture's (or the latents' x 8) size.
  - Hand-off: the base stops after the timesteps `>= round(1000 - denoising_end * 1000)` (here
    `[831, 665, 499, 333]` of 6) and returns the UNet-space latents; the refiner keeps the
    timesteps `< round(1000 - denoising_start * 1000)` (`[167, 1]`), `set_begin_index` to the
    first of those, takes the 4-channel `image` as the latents as they are (no VAE, no noise).
  - `turbo_*`: EulerDiscrete with `timestep_spacing: trailing` (1 step: timestep 999), guidance
    0 (no CFG), `init_noise_sigma` = sigma_max (trailing/linspace) rather than sqrt(sigma_max^2 + 1).
  - `timestep`: the pipeline hands the UNet the scheduler's timestep as it is (float32 for the
    Euler schedulers, int64 for DPM-Solver: `timestep_dtype`); optimum casts it to the graph's
    float32 scalar. `time_ids` and `text_embeds` are float32.
  - img2img, inpaint: the torch generator's draws as in `edit.json` (the VAE scaling factor is
    0.13025 here); inpaint `strength` defaults to 0.9999 in the SDXL pipeline
    (`inp9_euler_6_default_strength`).
- `sdxl_sensitivity.json`, `sdxl_sensitivity/*.png`: the images optimum's pipeline gives for
  `{SENS_BASE}` (width 64, height 96, negative None -> zeros) under typical mistakes, made by
  monkeypatching the pipeline; rows `{{"name", "mistake", "golden", "golden_files", "files",
  "max_abs_diff", "mean_abs_diff", "tolerance", "beyond_tolerance", "unet_time_ids"}}`; each is
  beyond the image tolerance (max |diff| <= {TOL_MAX:g} and mean <= {TOL_MEAN:g}, 0..255 units) from
  the golden, so a test within tolerance of the golden cannot have made it:
{sens}
"""
    path = GOLDENS / "README.md"
    old = path.read_text(encoding="utf-8")
    if README_HEADING in old:
        start = old.index(README_HEADING)
        nxt = old.find("\n## ", start + len(README_HEADING))
        old = old[:start].rstrip("\n") + ("\n" + old[nxt:] if nxt != -1 else "")
    path.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def main():
    torch.set_grad_enabled(False)
    GOLDENS.mkdir(parents=True, exist_ok=True)
    pipes, entries, results, latents_by_name = make_images()
    rows = make_sensitivity(pipes, entries, results, latents_by_name)
    write_readme(entries, rows)
    total = 0
    for p in sorted([GOLDENS / "sdxl.json", GOLDENS / "sdxl_sensitivity.json",
                     *OUT_DIR.iterdir(), *SENS_DIR.iterdir()]):
        total += p.stat().st_size
    print(f"sdxl goldens: {total} bytes")


if __name__ == "__main__":
    main()
