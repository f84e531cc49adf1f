"""Scheduler goldens: every sdrt scheduler against its diffusers class.

Writes tests/goldens/schedulers/<name>.json (format documented in tests/schedulers.rs).
For each variant: `<Class>.from_config(config, **extra)` as users do with a model's config,
`set_timesteps(steps)`, then for every timestep: `scale_model_input` on the current sample
and `step` with a synthetic model output. Stochastic schedulers' noise comes from one
`np.random.RandomState(noise_seed)` stream (randn_tensor is replaced), which is exactly what
sdrt's numpy generator feeds them.

Two sets are written:
- tests/goldens/schedulers/: diffusers as it runs on this machine. torch's float32 sqrt (and
  log/exp) and numpy's float32 log are not correctly rounded on every CPU (on the machine that
  made these goldens torch's sqrt is one ulp off for ~20% of inputs), so the Rust test allows a
  few ulps here, per scheduler, with the reason.
- tests/goldens/schedulers_exact/ (`--correctly-rounded`): the same runs with torch's float32
  sqrt/log/exp/expm1 and numpy's float32 log computed in float64 and rounded once. sdrt uses
  correctly rounded functions, so against this set every scheduler must match bit for bit:
  any difference is a real deviation in the order of operations.

Usage: python tools/make_scheduler_goldens.py [--correctly-rounded] [NAME ...]   (default: all)
"""

import copy
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "tiny-sd2"
OUT = ROOT / "tests" / "goldens" / "schedulers"

import diffusers  # noqa: E402

CLASSES = {
    "pndm": ("PNDMScheduler", {}),
    "ddim": ("DDIMScheduler", {}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "dpm++2m": ("DPMSolverMultistepScheduler",
                {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False}),
    "dpm++2m-karras": ("DPMSolverMultistepScheduler",
                       {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    "dpm++2m-sde": ("DPMSolverMultistepScheduler",
                    {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "use_karras_sigmas": False}),
    "lms": ("LMSDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "lcm": ("LCMScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
}

# Common variants: (name, config changes, steps, eta). The base config is the fixture's
# scheduler_config.json (SD2-base: scaled_linear 0.00085..0.012, steps_offset 1, leading).
COMMON = [
    ("fixture_1", {}, 1, 0.0),
    ("fixture_3", {}, 3, 0.0),
    ("fixture_10", {}, 10, 0.0),
    ("v_prediction_7", {"prediction_type": "v_prediction"}, 7, 0.0),
    ("trailing_4", {"timestep_spacing": "trailing"}, 4, 0.0),
    ("linspace_5", {"timestep_spacing": "linspace"}, 5, 0.0),
    ("no_spacing_key_6", {"timestep_spacing": None}, 6, 0.0),
    ("linear_betas_5", {"beta_schedule": "linear", "beta_start": 0.0001, "beta_end": 0.02}, 5, 0.0),
]

# Scheduler-specific extra variants.
EXTRA = {
    "pndm": [],
    "ddim": [
        ("eta_0.5_6", {}, 6, 0.5),
        ("eta_1_v_prediction_4", {"prediction_type": "v_prediction"}, 4, 1.0),
        ("alpha_one_clip_5", {"set_alpha_to_one": True, "clip_sample": True}, 5, 0.0),
        ("zero_snr_trailing_5", {"rescale_betas_zero_snr": True, "timestep_spacing": "trailing",
                                 "prediction_type": "v_prediction"}, 5, 0.0),
        ("sample_prediction_eta_0.7_5", {"prediction_type": "sample"}, 5, 0.7),
        ("clip_range_2_eta_0.3_7", {"clip_sample": True, "clip_sample_range": 2.0}, 7, 0.3),
        ("cosine_betas_8", {"beta_schedule": "squaredcos_cap_v2"}, 8, 0.0),
    ],
    "euler": [
        ("zero_snr_trailing_5", {"rescale_betas_zero_snr": True, "timestep_spacing": "trailing",
                                 "prediction_type": "v_prediction"}, 5, 0.0),
        ("karras_6", {"use_karras_sigmas": True}, 6, 0.0),
        ("final_sigma_min_4", {"final_sigmas_type": "sigma_min"}, 4, 0.0),
        ("sample_prediction_5", {"prediction_type": "sample"}, 5, 0.0),
        ("log_linear_6", {"interpolation_type": "log_linear"}, 6, 0.0),
        ("exponential_final_sigma_min_5", {"use_exponential_sigmas": True,
                                           "final_sigmas_type": "sigma_min"}, 5, 0.0),
        ("continuous_epsilon_5", {"timestep_type": "continuous"}, 5, 0.0),
    ],
    "euler-a": [("v_prediction_trailing_5", {"prediction_type": "v_prediction", "timestep_spacing": "trailing"}, 5, 0.0)],
    "dpm++2m": [("final_sigma_min_6", {"final_sigmas_type": "sigma_min"}, 6, 0.0),
                ("no_lower_order_final_8", {"lower_order_final": False}, 8, 0.0)],
    "dpm++2m-karras": [("karras_20", {}, 20, 0.0)],
    "dpm++2m-sde": [("sde_v_prediction_9", {"prediction_type": "v_prediction"}, 9, 0.0)],
    "lms": [("lms_20", {}, 20, 0.0)],
    "heun": [("heun_karras_5", {"use_karras_sigmas": True}, 5, 0.0)],
    "unipc": [("unipc_20", {}, 20, 0.0), ("unipc_bh1_6", {"solver_type": "bh1"}, 6, 0.0)],
    "lcm": [("lcm_4", {"original_inference_steps": 50}, 4, 0.0),
            ("lcm_trailing_2", {"timestep_spacing": "trailing"}, 2, 0.0),
            ("lcm_sample_prediction_4", {"prediction_type": "sample"}, 4, 0.0),
            ("lcm_clip_1.5_6", {"clip_sample": True, "clip_sample_range": 1.5}, 6, 0.0),
            ("lcm_original_100_8", {"original_inference_steps": 100}, 8, 0.0),
            ("lcm_timestep_scaling_5", {"timestep_scaling": 3.5}, 5, 0.0)],
    "ddpm": [("ddpm_fixed_large_5", {"variance_type": "fixed_large"}, 5, 0.0),
             ("ddpm_clip_4", {"clip_sample": True}, 4, 0.0),
             ("ddpm_fixed_small_log_6", {"variance_type": "fixed_small_log"}, 6, 0.0),
             ("ddpm_sample_prediction_4", {"prediction_type": "sample"}, 4, 0.0),
             ("ddpm_v_prediction_no_clip_trailing_8", {"prediction_type": "v_prediction",
                                                      "clip_sample": False,
                                                      "timestep_spacing": "trailing"}, 8, 0.0)],
}

SHAPE = (1, 4, 2, 3)


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def bits(t: torch.Tensor) -> list:
    return t.detach().numpy().astype(np.float32).ravel().view(np.uint32).tolist()


class NumpyNoise:
    """Replaces diffusers' randn_tensor with one RandomState stream (float64 -> float32)."""

    def __init__(self, seed: int):
        self.rs = np.random.RandomState(seed)

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None, **kw):
        return torch.from_numpy(self.rs.randn(*shape).astype(np.float32))


def patch_noise(module_name: str, noise: NumpyNoise):
    mod = sys.modules[module_name]
    if hasattr(mod, "randn_tensor"):
        mod.randn_tensor = noise


def jsonable(v):
    """Strict JSON: non-finite floats (e.g. lambda_min_clipped = -inf) become strings."""
    if isinstance(v, float) and not np.isfinite(v):
        return str(v)
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def run_variant(name: str, base: dict, changes: dict, steps: int, eta: float, noise_seed: int = 99):
    class_name, extra = CLASSES[name]
    cls = getattr(diffusers, class_name)
    config = copy.deepcopy(base)
    for k, v in changes.items():
        if v is None:
            config.pop(k, None)
        else:
            config[k] = v
    sched = cls.from_config(config, **extra)
    noise = NumpyNoise(noise_seed)
    patch_noise(cls.__module__, noise)
    sched.set_timesteps(steps)
    sample = torch.from_numpy(np.random.RandomState(7).randn(*SHAPE).astype(np.float32))
    init_sigma = float(sched.init_noise_sigma)
    timesteps = [float(np.float32(t)) for t in sched.timesteps]
    scaled_bits, sample_bits = [], []
    for i, t in enumerate(sched.timesteps):
        scaled = sched.scale_model_input(sample, t)
        scaled_bits.append(bits(scaled))
        out = torch.from_numpy(np.random.RandomState(1000 + i).randn(*SHAPE).astype(np.float32))
        kwargs = {"eta": eta} if name == "ddim" else {}
        sample = sched.step(out, t, sample, **kwargs).prev_sample
        sample_bits.append(bits(sample))
    return {
        "config": config,
        "resolved_config": jsonable({k: v for k, v in dict(sched.config).items() if not k.startswith("_")}),
        "steps": steps,
        "eta": eta,
        "noise_seed": noise_seed,
        "timesteps": timesteps,
        "init_noise_sigma": init_sigma,
        "scaled_bits": scaled_bits,
        "sample_bits": sample_bits,
    }


def use_correctly_rounded_math():
    """Makes torch's float32 sqrt/log/exp/expm1 (functions, methods, `** 0.5`) and numpy's
    float32 log correctly rounded: computed in float64, rounded once to float32."""

    def wrap(fn):
        def f(x, *a, **k):
            if isinstance(x, torch.Tensor) and x.dtype == torch.float32 and not a and not k:
                return fn(x.double()).float()
            return fn(x, *a, **k)
        return f

    for name in ["sqrt", "log", "exp", "expm1"]:
        setattr(torch, name, wrap(getattr(torch, name)))
        setattr(torch.Tensor, name, wrap(getattr(torch.Tensor, name)))
    tensor_pow = torch.Tensor.__pow__

    def pow_(self, e):
        if self.dtype == torch.float32 and isinstance(e, (int, float)) and e == 0.5:
            return self.double().sqrt().float()
        return tensor_pow(self, e)

    torch.Tensor.__pow__ = pow_
    np_log = np.log

    def log(x, *a, **k):
        arr = np.asarray(x)
        if arr.dtype == np.float32 and not a and not k:
            out = np_log(arr.astype(np.float64)).astype(np.float32)
            return out if isinstance(x, np.ndarray) else out[()]
        return np_log(x, *a, **k)

    np.log = log


def main(names):
    base = json.loads((FIXTURE / "scheduler" / "scheduler_config.json").read_text())
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        variants = []
        for vname, changes, steps, eta in COMMON + EXTRA[name]:
            v = run_variant(name, base, changes, steps, eta)
            v["name"] = vname
            variants.append(v)
        doc = {"scheduler": name, "class": CLASSES[name][0], "variants": variants}
        path = OUT / f"{name.replace('+', 'p')}.json"
        path.write_text(json.dumps(doc, indent=None, sort_keys=False, allow_nan=False) + "\n",
                        encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(variants)} variants")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--correctly-rounded" in args:
        args.remove("--correctly-rounded")
        use_correctly_rounded_math()
        OUT = ROOT / "tests" / "goldens" / "schedulers_exact"
    main(args or list(CLASSES))
