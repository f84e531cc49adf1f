#!/usr/bin/env python3
"""Goldens for sdrt's TorchGenerator (src/rng/torch.rs): torch's CPU `randn`, float32.

Run from the repository root on an x86-64 machine with AVX2 or AVX-512:

    /work/venv/bin/python tools/make_torch_randn_goldens.py

Writes tests/goldens/torch_randn.json (deterministic for a given torch). Every case is one
`g = torch.Generator("cpu").manual_seed(seed)` followed by successive
`torch.randn(shape, generator=g, dtype=torch.float32)` calls:

    {
      "torch_version", "cpu_capability", "libc", "machine",
      "full_max": calls with at most this many elements store every value,
      "edge": how many leading / trailing values large calls store,
      "kernels": {
        "avx2":   {"cpu_capability", "cases": [CASE...]},   # TorchGenerator::new
        "scalar": {"cpu_capability", "cases": [CASE...]}    # TorchGenerator::with_scalar_kernel
      }
    }
    CASE = {"name", "seed" (0 .. 2**64-1), "calls": [CALL...]}
    CALL = {"shape", "numel", "sha256",                # sha256 of the little-endian f32 bytes
            "bits": [u32...]}                          # numel <= full_max: every value
         | {"shape", "numel", "sha256",
            "head": [u32 x edge], "tail": [u32 x edge],
            "samples": [[index, u32]...]}              # numel > full_max

Values are float32 bit patterns in C order. "avx2" is computed in this process, which must
use the AVX2 kernel (torch's capability AVX2 or AVX512: normal_ is not dispatched to AVX-512,
so both run the AVX2 kernel; the script checks that they agree). "scalar" is computed in a
child process with ATEN_CPU_CAPABILITY=default. Its values depend on the C library's
logf/sinf/cosf (glibc here), so the Rust test checks them only on glibc.

The script also checks the claims the Rust implementation relies on: a contiguous tensor's
values depend only on its element count, the generator uses the low 32 bits of the seed, and
randn(0) draws nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "goldens" / "torch_randn.json"

FULL_MAX = 128
EDGE = 64
SAMPLES = 32

# Fixed seeds plus a few arbitrary 64-bit ones (drawn from a fixed Python PRNG).
_rng = random.Random(20250101)
SEEDS = [0, 1, 42, 1234, 2**31 - 1, 2**32 - 1, 2**32, 2**32 + 42, 2**63 - 1, 2**63, 2**64 - 1]
SEEDS += [_rng.getrandbits(64) for _ in range(4)]

SIZES = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000,
         4096, 16384, 36864, 147456]

SHAPES = [(3, 5), (2, 3, 5), (4, 4), (1, 1, 1, 17), (2, 4, 8, 8), (1, 4, 64, 64),
          (1, 4, 96, 96), (2, 4, 64, 64), (4, 4, 96, 96)]

LATENT_64 = (1, 4, 64, 64)    # 512x512 image
LATENT_96 = (4, 4, 96, 96)    # four 768x768 images
SEQUENCES = [
    # (name, seed, successive shapes)
    ("small_small_large", 7, [1, 1, 20]),
    ("small_large_small", 7, [1, 20, 1]),
    ("cache_survives_large_calls", 7, [3, 1000, 16, 147456, 1, 1]),
    ("even_small_then_large", 2**64 - 1, [2, 20, 1, 1]),
    ("mixed_odd", 1234, [3, 15, 16, 17, 1, 1, 33]),
    ("mixed_odd_2", 5, [255, 1000, 31, 33, 100, 1, 17, 2, 15]),
    ("fifteen_one", 99, [15, 1, 16, 1]),
    ("counting_up", 3, list(range(1, 41))),
    ("diffusers_512", 42, [LATENT_64] * 6),
    ("diffusers_768x4", 2**64 - 1, [LATENT_96, LATENT_96, 1, LATENT_96]),
    ("large_small_large", 2**32 + 17, [147456, 5, 147456, 147455, 147457]),
]

SCALAR_SEEDS = [0, 42, 2**64 - 1, SEEDS[-1]]
SCALAR_SIZES = [1, 3, 16, 17, 33, 100, 1000, 16384, 147456]
SCALAR_SEQUENCES = [SEQUENCES[1], SEQUENCES[2], SEQUENCES[8]]


def numel(shape) -> int:
    if isinstance(shape, int):
        return shape
    return int(np.prod(shape, dtype=np.int64))


def shape_list(shape) -> list[int]:
    return [shape] if isinstance(shape, int) else list(shape)


def record(x: torch.Tensor, shape) -> dict:
    bits = x.contiguous().reshape(-1).numpy().astype("<f4").view("<u4")
    n = bits.size
    out = {
        "shape": shape_list(shape),
        "numel": n,
        "sha256": hashlib.sha256(bits.tobytes()).hexdigest(),
    }
    if n <= FULL_MAX:
        out["bits"] = bits.tolist()
    else:
        out["head"] = bits[:EDGE].tolist()
        out["tail"] = bits[-EDGE:].tolist()
        idx = sorted({(k * (n - 1)) // (SAMPLES - 1) for k in range(SAMPLES)})
        out["samples"] = [[i, int(bits[i])] for i in idx]
    return out


def run_case(name: str, seed: int, shapes) -> dict:
    g = torch.Generator("cpu").manual_seed(seed)
    calls = []
    for shape in shapes:
        x = torch.randn(shape_list(shape), generator=g, dtype=torch.float32)
        calls.append(record(x, shape))
    return {"name": name, "seed": seed, "calls": calls}


def cases(seeds, sizes, sequences, sweep: bool) -> list[dict]:
    out = []
    for seed in seeds:
        for n in sizes:
            out.append(run_case(f"single_{seed}_{n}", seed, [n]))
    if sweep:
        # Every count from 1 to 130 (all tail residues mod 16, both paths) for one seed.
        for n in range(1, 131):
            if n not in sizes:
                out.append(run_case(f"sweep_1234_{n}", 1234, [n]))
        for seed in (0, 2**64 - 1):
            for shape in SHAPES:
                name = f"shape_{seed}_{'x'.join(map(str, shape))}"
                out.append(run_case(name, seed, [shape]))
    for name, seed, shapes in sequences:
        out.append(run_case(f"seq_{name}", seed, shapes))
    return out


def randn_bits(seed: int, shape) -> np.ndarray:
    g = torch.Generator("cpu").manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float32).reshape(-1).numpy().view("<u4")


def check_claims() -> None:
    for seed in (0, 42, 2**64 - 1):
        for shape in SHAPES:
            assert np.array_equal(randn_bits(seed, shape), randn_bits(seed, [numel(shape)])), (
                seed, shape)
    for seed in (5, 2**31 + 3):
        for n in (3, 20, 1000):
            assert np.array_equal(randn_bits(seed, [n]), randn_bits(seed + 2**32, [n]))
            assert np.array_equal(randn_bits(seed, [n]), randn_bits(seed + 2**40 * 7, [n]))
    g = torch.Generator("cpu").manual_seed(3)
    assert torch.randn(0, generator=g).numel() == 0
    assert np.array_equal(torch.randn(20, generator=g).numpy().view("<u4"), randn_bits(3, [20]))
    # A negative Python seed is its two's complement.
    assert np.array_equal(randn_bits(-1, [20]), randn_bits(2**64 - 1, [20]))


def digest(section_cases: list[dict]) -> str:
    return hashlib.sha256(json.dumps(section_cases).encode()).hexdigest()


def child(kind: str) -> None:
    """Runs in a subprocess with ATEN_CPU_CAPABILITY set; prints a section as JSON."""
    if kind == "scalar":
        section = cases(SCALAR_SEEDS, SCALAR_SIZES, SCALAR_SEQUENCES, sweep=False)
    else:
        section = cases(SEEDS, SIZES, SEQUENCES, sweep=True)
    json.dump({"cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "digest": digest(section), "cases": section}, sys.stdout)


def run_child(kind: str, capability: str) -> dict:
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability)
    res = subprocess.run([sys.executable, __file__, "--child", kind], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def write(doc: dict) -> None:
    """JSON with one line per call, so the file stays readable and diffs stay local."""
    lines = ["{"]
    for key in ("torch_version", "cpu_capability", "libc", "machine", "full_max", "edge"):
        lines.append(f"  {json.dumps(key)}: {json.dumps(doc[key])},")
    lines.append('  "kernels": {')
    kernels = list(doc["kernels"].items())
    for ki, (kname, section) in enumerate(kernels):
        lines.append(f"    {json.dumps(kname)}: {{")
        lines.append(f'      "cpu_capability": {json.dumps(section["cpu_capability"])},')
        lines.append('      "cases": [')
        for ci, case in enumerate(section["cases"]):
            head = json.dumps({"name": case["name"], "seed": case["seed"]})[:-1]
            lines.append(f'        {head}, "calls": [')
            for i, call in enumerate(case["calls"]):
                comma = "," if i + 1 < len(case["calls"]) else ""
                lines.append("          " + json.dumps(call, separators=(",", ":")) + comma)
            lines.append("        ]}" + ("," if ci + 1 < len(section["cases"]) else ""))
        lines.append("      ]")
        lines.append("    }" + ("," if ki + 1 < len(kernels) else ""))
    lines.append("  }")
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n")


def main() -> None:
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in ("AVX2", "AVX512"):
        sys.exit(f"torch's CPU capability is {capability}; the AVX2 goldens need AVX2 or AVX512")
    check_claims()

    avx2 = cases(SEEDS, SIZES, SEQUENCES, sweep=True)
    # normal_ has no AVX-512 kernel: forcing AVX2 (or AVX512 where available) must agree.
    forced = ["avx2"] + (["avx512"] if capability == "AVX512" else [])
    for cap in forced:
        other = run_child("avx2", cap)
        assert other["digest"] == digest(avx2), f"ATEN_CPU_CAPABILITY={cap} differs"
    scalar = run_child("scalar", "default")
    assert scalar["cpu_capability"] == "DEFAULT", scalar["cpu_capability"]

    doc = {
        "torch_version": torch.__version__,
        "cpu_capability": capability,
        "libc": " ".join(platform.libc_ver()),
        "machine": platform.machine(),
        "full_max": FULL_MAX,
        "edge": EDGE,
        "kernels": {
            "avx2": {"cpu_capability": capability, "cases": avx2},
            "scalar": {"cpu_capability": scalar["cpu_capability"], "cases": scalar["cases"]},
        },
    }
    write(doc)
    json.loads(OUT.read_text())  # well-formed
    n_calls = sum(len(c["calls"]) for s in doc["kernels"].values() for c in s["cases"])
    print(f"wrote {OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes, "
          f"{sum(len(s['cases']) for s in doc['kernels'].values())} cases, {n_calls} calls")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
