"""Times optimum's ORTStableDiffusionPipeline (ORTStableDiffusionXLPipeline for an SDXL folder)
the way examples/bench.rs times sdrt: median
wall time per image after one warm-up call, and the part spent inside ONNX Runtime sessions.

Usage: python tools/bench_reference.py [--model DIR] [--width W] [--height H] [--steps N]
                                       [--runs N] [--warmup N] [--guidance G]
                                       [--scheduler euler] [--json FILE] [--label TEXT]

With `--json` it appends one JSON object like examples/bench.rs's: create time, per-graph
times, and the process's peak resident set during create and during the calls.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch

from bench_common import parser, reset_peak, status_kb  # noqa: E402


def main():
    ap = parser()
    ap.add_argument("--scheduler", choices=["euler"])
    a = ap.parse_args()

    from optimum.onnxruntime import ORTStableDiffusionPipeline, ORTStableDiffusionXLPipeline

    sdxl = (Path(a.model) / "text_encoder_2").is_dir()
    cls = ORTStableDiffusionXLPipeline if sdxl else ORTStableDiffusionPipeline
    t0 = time.perf_counter()
    pipe = cls.from_pretrained(a.model, provider="CPUExecutionProvider")
    load = time.perf_counter() - t0
    create_peak = status_kb("VmHWM:")
    reset_peak()
    pipe.set_progress_bar_config(disable=True)
    if a.scheduler == "euler":
        from diffusers import EulerDiscreteScheduler

        pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)

    inside = [0.0]
    per_part = {}
    for label, part in [("text encoder", pipe.text_encoder),
                        ("text encoder", getattr(pipe, "text_encoder_2", None)),
                        ("unet", pipe.unet), ("vae decoder", pipe.vae_decoder)]:
        if part is None:  # no second encoder (SD), or no first (an SDXL refiner)
            continue
        sess = part.session
        per_part[label] = 0.0
        for name in ["run", "run_with_iobinding"]:
            orig = getattr(sess, name)

            def timed(*args, _orig=orig, _label=label, **kw):
                s = time.perf_counter()
                try:
                    return _orig(*args, **kw)
                finally:
                    d = time.perf_counter() - s
                    inside[0] += d
                    per_part[_label] += d

            setattr(sess, name, timed)

    def once():
        lat = np.random.RandomState(42).randn(1, 4, a.height // 8, a.width // 8).astype(np.float32)
        inside[0] = 0.0
        for k in per_part:
            per_part[k] = 0.0
        s = time.perf_counter()
        pipe(prompt="a photo of an astronaut riding a horse on mars", width=a.width,
             height=a.height, num_inference_steps=a.steps, guidance_scale=a.guidance,
             latents=torch.from_numpy(lat), output_type="np")
        return time.perf_counter() - s, inside[0], dict(per_part)

    first = None
    for _ in range(a.warmup):
        d = once()[0]
        first = d if first is None else first
    totals, ins, parts = zip(*[once() for _ in range(a.runs)])
    gen_peak = status_kb("VmHWM:")
    total, ort = float(np.median(totals)), float(np.median(ins))
    print(f"optimum {Path(a.model).name} {a.width}x{a.height} steps={a.steps} guidance={a.guidance} "
          f"runs={a.runs}: load {load * 1000:.1f} ms, per image {total * 1000:.1f} ms "
          f"(ONNX Runtime {ort * 1000:.1f} ms, outside it {(total - ort) * 1000:.2f} ms = "
          f"{100 * (total - ort) / total:.1f}%)")
    print("  inside ONNX Runtime: " + ", ".join(
        f"{k} {np.median([p[k] for p in parts]) * 1000:.1f} ms" for k in per_part))
    print(f"  create {load:.2f} s; peak RSS: create {create_peak / 1e9:.2f} GB, "
          f"generate {gen_peak / 1e9:.2f} GB")
    if a.json:
        med = {k: float(np.median([p[k] for p in parts])) for k in per_part}
        rec = {
            "system": "optimum", "label": a.label, "model": Path(a.model).name,
            "width": a.width, "height": a.height, "steps": a.steps, "runs": a.runs,
            "create_s": load, "first_call_s": first, "generate_s": total,
            "onnx_runtime_s": ort, "outside_s": total - ort,
            "text_encoder_s": med["text encoder"], "unet_s": med["unet"],
            "vae_decoder_s": med["vae decoder"],
            "create_peak_rss": create_peak, "generate_peak_rss": gen_peak,
            "peak_rss": max(create_peak, gen_peak),
        }
        with open(a.json, "a") as f:
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
