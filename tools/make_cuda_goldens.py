#!/usr/bin/env python3
"""Goldens for `--rng torch-cuda` (see CUDA_README below, tests/cuda_rng.rs). Run from the
repository root (after tools/make_tiny_model.py):

    /work/venv/bin/python tools/make_cuda_goldens.py

Writes tests/goldens/cuda_images.json, tests/goldens/cuda/*.png and
tests/goldens/cuda_scheduler_noise.json, then tests/goldens/README.md. The CUDA generator's
draws come from tools/cuda_randn.py (numpy, checked here against tests/goldens/cuda_randn.json
first), not from sdrt, so the goldens do not depend on the code under test.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_randn import CudaGenerator, check  # noqa: E402
import make_goldens as mg  # noqa: E402

# name, scheduler (sdrt name, None = the model's PNDM), prompt, negative, width, height, steps,
# guidance, seed, count, eta. All on tests/fixtures/tiny-sd2.
IMAGE_CASES = [
    ("cuda_pndm", None, "a red apple on a table", None, 64, 64, 5, 7.5, 42, 1, 0.0),
    ("cuda_euler_wide_count2", "euler", "a wide beach", "fog", 96, 64, 4, 7.5, 2**40 + 7, 2, 0.0),
    ("cuda_eulera_count2", "euler-a", "two cats", None, 64, 64, 4, 7.5, 21, 2, 0.0),
    ("cuda_dpmpp2msde", "dpm++2m-sde", "a bridge at night", None, 64, 64, 5, 7.5, 23, 1, 0.0),
    ("cuda_ddim_eta", "ddim", "a fox in the forest", None, 64, 64, 5, 7.5, 18, 1, 1.0),
]

# Stochastic schedulers on synthetic inputs: (sdrt name, variant, config changes, steps, eta).
NOISE_VARIANTS = [
    ("euler-a", "fixture_5", {}, 5, 0.0),
    ("euler-a", "fixture_12", {}, 12, 0.0),
    ("dpm++2m-sde", "fixture_6", {}, 6, 0.0),
    ("ddpm", "fixture_4", {}, 4, 0.0),
    ("lcm", "fixture_4", {}, 4, 0.0),
    ("ddim", "eta_1", {}, 5, 1.0),
]
NOISE_SEED = 99

CUDA_README = """
## torch's CUDA generator (`--rng torch-cuda`)

- `cuda_randn.json`: the known answers: `torch.randn` on an NVIDIA H200 (torch 2.11.0+cu130)
  with `torch.Generator("cuda").manual_seed(seed)` (float32 and float16), the default generator
  after `torch.manual_seed`, odd sizes, and one generator drawing several shapes in a row
  (`how: "sequence"`, in `draw` order). IEEE bits of every value, C order. Copied unchanged
  from the project's shared references; not generated here.
- `cuda_device.json`: written by `tools/cuda_sincos.py golden` from measurements on an H200
  (`tools/cuda_sincos.py probe`): `sincos` rows `[v bits, __sincosf(v).sin bits, .cos bits]`
  across every binade of v that curand produces; `large`: seed 0 drawing 16384, 1,100,000 and
  16 values (FNV-1a 64 of the float32 bytes, every 997th value, all 16 of the last).
- `cuda_images.json`, `cuda/*.png`: written by `tools/make_cuda_goldens.py`; the schema of
  `images.json`, `generator: "torch-cuda"`, all on `tiny-sd2`. optimum's
  `ORTStableDiffusionPipeline` is given `latents=` drawn by `tools/cuda_randn.py`'s
  `CudaGenerator(seed).randn((count, 4, height // 8, width // 8))` (the numpy reference of
  `torch.Generator("cuda")`, checked against `cuda_randn.json`), and the scheduler module's
  `randn_tensor` is replaced by further draws from the same generator, one per call with the
  call's shape: what diffusers does with a CUDA generator.
- `cuda_scheduler_noise.json`: `[{"scheduler", "name", "config", "steps", "eta", "noise_seed",
  "timesteps", "init_noise_sigma", "scaled_bits", "sample_bits"}]`, as
  `schedulers_exact/*.json` (correctly rounded float32 math, initial sample
  `RandomState(7).randn(1, 4, 2, 3)`, model output of evaluation i
  `RandomState(1000 + i).randn(1, 4, 2, 3)`), but every `randn_tensor` call of the stochastic
  schedulers draws from one `CudaGenerator(noise_seed)`: one call, one Philox offset step.
"""


def make_images() -> list:
    import diffusers
    from PIL import Image
    from optimum.onnxruntime import ORTStableDiffusionPipeline
    from make_scheduler_goldens import CLASSES

    pipe = ORTStableDiffusionPipeline.from_pretrained(str(mg.FIXTURE), provider="CPUExecutionProvider")
    pipe.set_progress_bar_config(disable=True)
    base = pipe.scheduler.config
    (mg.GOLDENS / "cuda").mkdir(parents=True, exist_ok=True)
    entries = []
    for name, sched, prompt, neg, w, h, steps, guidance, seed, count, eta in IMAGE_CASES:
        if sched is None:
            pipe.scheduler = type(pipe.scheduler).from_config(base)
        else:
            class_name, extra = CLASSES[sched]
            pipe.scheduler = getattr(diffusers, class_name).from_config(base, **extra)
        module = sys.modules[type(pipe.scheduler).__module__]
        original = getattr(module, "randn_tensor", None)
        gen = CudaGenerator(seed)
        latents = torch.from_numpy(gen.randn((count, 4, h // 8, w // 8)))
        if original is not None:
            module.randn_tensor = lambda shape, *a, **k: torch.from_numpy(gen.randn(tuple(shape)))
        try:
            out = pipe(prompt=prompt, negative_prompt=neg, width=w, height=h,
                       num_inference_steps=steps, guidance_scale=guidance,
                       num_images_per_prompt=count, eta=eta, output_type="np",
                       latents=latents).images
        finally:
            if original is not None:
                module.randn_tensor = original
        images = (np.asarray(out) * 255).round().astype("uint8")
        assert images.shape == (count, h, w, 3), images.shape
        files = []
        for i in range(count):
            fname = f"cuda/{name}.png" if count == 1 else f"cuda/{name}-{i}.png"
            Image.fromarray(images[i]).save(mg.GOLDENS / fname, optimize=False)
            files.append(fname)
        entries.append({
            "name": name, "model": "tiny-sd2", "prompt": prompt, "negative_prompt": neg,
            "width": w, "height": h, "steps": steps, "guidance": guidance, "seed": seed,
            "count": count, "scheduler": sched, "generator": "torch-cuda", "eta": eta,
            "files": files,
        })
        print(f"  {name:26s} {type(pipe.scheduler).__name__:32s} offset after: {gen.offset}")
    mg.write_json(mg.GOLDENS / "cuda_images.json", entries)
    return entries


def make_scheduler_noise() -> list:
    import copy

    import diffusers
    import make_scheduler_goldens as msg

    msg.use_correctly_rounded_math()
    base = json.loads((msg.FIXTURE / "scheduler" / "scheduler_config.json").read_text())
    variants = []
    for sched_name, vname, changes, steps, eta in NOISE_VARIANTS:
        class_name, extra = msg.CLASSES[sched_name]
        cls = getattr(diffusers, class_name)
        config = copy.deepcopy(base)
        config.update(changes)
        sched = cls.from_config(config, **extra)
        gen = CudaGenerator(NOISE_SEED)
        module = sys.modules[cls.__module__]
        module.randn_tensor = lambda shape, *a, **k: torch.from_numpy(gen.randn(tuple(shape)))
        sched.set_timesteps(steps)
        sample = torch.from_numpy(np.random.RandomState(7).randn(*msg.SHAPE).astype(np.float32))
        scaled_bits, sample_bits = [], []
        for i, t in enumerate(sched.timesteps):
            scaled_bits.append(msg.bits(sched.scale_model_input(sample, t)))
            out = torch.from_numpy(np.random.RandomState(1000 + i).randn(*msg.SHAPE).astype(np.float32))
            kwargs = {"eta": eta} if sched_name == "ddim" else {}
            sample = sched.step(out, t, sample, **kwargs).prev_sample
            sample_bits.append(msg.bits(sample))
        assert gen.offset > 0, f"{sched_name} drew no noise"
        variants.append({
            "scheduler": sched_name, "name": vname, "config": config, "steps": steps, "eta": eta,
            "noise_seed": NOISE_SEED, "draws": gen.offset // 4,
            "timesteps": [float(np.float32(t)) for t in sched.timesteps],
            "init_noise_sigma": float(sched.init_noise_sigma),
            "scaled_bits": scaled_bits, "sample_bits": sample_bits,
        })
        print(f"  {sched_name}/{vname}: {gen.offset // 4} noise draws")
    path = mg.GOLDENS / "cuda_scheduler_noise.json"
    path.write_text(json.dumps(msg.jsonable(variants), allow_nan=False) + "\n", encoding="utf-8")
    return variants


def main():
    if check(mg.GOLDENS / "cuda_randn.json"):
        raise SystemExit("tools/cuda_randn.py does not reproduce tests/goldens/cuda_randn.json")
    make_images()
    make_scheduler_noise()  # last: it makes torch's float32 functions correctly rounded
    mg.write_readme()


if __name__ == "__main__":
    main()
