"""Which step counts diffusers refuses: the golden behind tests/steps.rs.

For every scheduler sdrt names (the classes and extra settings of make_scheduler_goldens.py),
the fixture's scheduler config (SD 2-base's: leading spacing, steps_offset 1, T = 1000) with
its own spacing and with "trailing" and "linspace", and every count in 1..=T, it asks
diffusers: `<Class>.from_config(config, **extra)`, `set_timesteps(steps)`, then the whole
denoising loop (`scale_model_input` and `step` for every timestep, a constant model output on
a 1x1x1x1 sample). A count is refused when diffusers raises there (set_timesteps' own
checks, an index past the end of its sigmas) or indexes `alphas_cumprod` outside 0..T-1:
the table is guarded, because numpy's arange gives some counts a timestep -1, and
`alphas_cumprod[-1]` would silently read the last entry instead of failing.

Running the loop for all 36 x 1000 counts takes hours (LMS integrates its coefficients
every step), so by default the loop runs for the counts where a failure can show:
every count up to 64, every count whose schedule is irregular (a timestep outside 0..T-1, or
fewer distinct timesteps than steps), and one regular count in 25 as a check of that premise:
if a sampled regular count fails, the script stops and asks for --full, which loops every
count. set_timesteps runs for every count either way.

Writes tests/goldens/steps_refused.json. Needs torch and diffusers (tools/requirements.txt).
Usage: python tools/make_steps_golden.py [--full] [--jobs N]
"""

import argparse
import copy
import json
import sys
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_scheduler_goldens import CLASSES, FIXTURE, ROOT  # noqa: E402

import diffusers  # noqa: E402

OUT = ROOT / "tests" / "goldens" / "steps_refused.json"
SPACINGS = ("config", "trailing", "linspace")
FULL_UP_TO = 64
SAMPLE_EVERY = 25


class GuardedTable(torch.Tensor):
    """alphas_cumprod that fails on an index outside 0..len-1 (negative ones included)
    instead of wrapping around. Only this object is guarded: what is computed from it is a
    plain tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.__getitem__ and type(args[0]) is cls:
            index = args[1]
            if isinstance(index, torch.Tensor) and index.ndim == 0:
                index = index.item()
            if isinstance(index, (int, float, np.integer, np.floating)):
                n = args[0].shape[0]
                if int(index) != index or not 0 <= int(index) < n:
                    raise IndexError(f"alphas_cumprod[{index}] is outside 0..{n - 1}")
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **kwargs)


def make(name: str, base: dict, spacing: str):
    class_name, extra = CLASSES[name]
    config = copy.deepcopy(base)
    if spacing != "config":
        config["timestep_spacing"] = spacing
    return getattr(diffusers, class_name).from_config(config, **extra)


def denoise(sched) -> None:
    """diffusers' loop on a 1x1x1x1 sample with a constant model output."""
    if hasattr(sched, "alphas_cumprod"):
        sched.alphas_cumprod = sched.alphas_cumprod.as_subclass(GuardedTable)
    sample = torch.zeros(1, 1, 1, 1)
    out = torch.full_like(sample, 0.1)
    generator = torch.Generator().manual_seed(0)
    takes_generator = "generator" in sched.step.__code__.co_varnames
    for t in sched.timesteps:
        scaled = sched.scale_model_input(sample, t)
        del scaled
        kwargs = {"generator": generator} if takes_generator else {}
        sample = sched.step(out, t, sample, **kwargs).prev_sample


def irregular(timesteps: np.ndarray, steps: int, t: int) -> bool:
    return bool((timesteps < 0).any() or (timesteps > t - 1).any()
                or len(np.unique(timesteps)) < steps)


def sweep(job):
    """(name, spacing, full) -> (name, spacing, refused counts, reasons, loops, seconds)."""
    name, spacing, full = job
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    base = json.loads((FIXTURE / "scheduler" / "scheduler_config.json").read_text())
    t = int(base["num_train_timesteps"])
    refused, reasons, loops, premise = [], {}, 0, []
    started = time.time()
    for steps in range(1, t + 1):
        sched = make(name, base, spacing)
        try:
            sched.set_timesteps(steps)
        except Exception as e:  # noqa: BLE001 - any failure of diffusers is a refusal
            refused.append(steps)
            reasons.setdefault(f"set_timesteps: {type(e).__name__}", steps)
            continue
        ts = np.asarray(sched.timesteps, dtype=np.float64)
        odd = irregular(ts, steps, t)
        sampled = steps % SAMPLE_EVERY == 0
        if not (full or steps <= FULL_UP_TO or odd or sampled):
            continue
        loops += 1
        try:
            denoise(sched)
        except Exception as e:  # noqa: BLE001
            refused.append(steps)
            reasons.setdefault(f"step: {type(e).__name__}: {str(e)[:80]}", steps)
            if not (full or steps <= FULL_UP_TO or odd):
                premise.append(steps)
    return name, spacing, refused, reasons, loops, time.time() - started, premise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="run the loop for every count")
    ap.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = ap.parse_args()
    jobs = [(name, spacing, args.full) for name in CLASSES for spacing in SPACINGS]
    # The slowest sweeps first, so that the pool ends together.
    jobs.sort(key=lambda j: (j[0] not in ("lms", "unipc"), j))
    refused = {name: {} for name in CLASSES}
    broken = []
    with Pool(args.jobs) as pool:
        for name, spacing, counts, reasons, loops, took, premise in pool.imap_unordered(
                sweep, jobs):
            refused[name][spacing] = counts
            print(f"{name:15} {spacing:9} {len(counts):4} refused, {loops:4} loops, "
                  f"{took:6.1f}s  {reasons}", flush=True)
            if premise:
                broken.append(f"{name} {spacing}: regular counts {premise} fail")
    if broken:
        print("a sampled count with a regular schedule failed, so the shortcut may miss "
              "refusals; run with --full:\n" + "\n".join(broken), file=sys.stderr)
        return 1
    doc = {
        "what": "step counts in 1..=num_train_timesteps that diffusers refuses (raises, or "
                "indexes alphas_cumprod outside 0..T-1) for each sdrt scheduler name, on "
                "the config below with its own timestep spacing and with trailing and "
                "linspace; written by tools/make_steps_golden.py",
        "config": "tests/fixtures/tiny-sd2/scheduler/scheduler_config.json",
        "diffusers": diffusers.__version__,
        "full_loops": args.full,
    }
    # One line per scheduler: the lists are long.
    lines = [f"  {json.dumps(name)}: {json.dumps({s: refused[name][s] for s in SPACINGS})}"
             for name in CLASSES]
    head = json.dumps(doc, indent=1)[:-2]
    OUT.write_text(head + ',\n "refused": {\n' + ",\n".join(lines) + "\n }\n}\n",
                   encoding="utf-8")
    json.loads(OUT.read_text(encoding="utf-8"))
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
