"""Times optimum's ORTStableDiffusionPipeline the way examples/bench.rs times sdrt: median
wall time per image after one warm-up call, and the part spent inside ONNX Runtime sessions.

Usage: python tools/bench_reference.py [--model DIR] [--width W] [--height H] [--steps N]
                                       [--runs N] [--guidance G]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "tests" / "fixtures" / "tiny-sd2"))
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--guidance", type=float, default=7.5)
    a = ap.parse_args()

    from optimum.onnxruntime import ORTStableDiffusionPipeline

    t0 = time.perf_counter()
    pipe = ORTStableDiffusionPipeline.from_pretrained(a.model, provider="CPUExecutionProvider")
    load = time.perf_counter() - t0
    pipe.set_progress_bar_config(disable=True)

    inside = [0.0]
    per_part = {}
    for label, part in [("text encoder", pipe.text_encoder), ("unet", pipe.unet),
                        ("vae decoder", pipe.vae_decoder)]:
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

    once()
    totals, ins, parts = zip(*[once() for _ in range(a.runs)])
    total, ort = float(np.median(totals)), float(np.median(ins))
    print(f"optimum {Path(a.model).name} {a.width}x{a.height} steps={a.steps} guidance={a.guidance} "
          f"runs={a.runs}: load {load * 1000:.1f} ms, per image {total * 1000:.1f} ms "
          f"(ONNX Runtime {ort * 1000:.1f} ms, outside it {(total - ort) * 1000:.2f} ms = "
          f"{100 * (total - ort) / total:.1f}%)")
    print("  inside ONNX Runtime: " + ", ".join(
        f"{k} {np.median([p[k] for p in parts]) * 1000:.1f} ms" for k in per_part))


if __name__ == "__main__":
    main()
