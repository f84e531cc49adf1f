#!/usr/bin/env python3
"""Where `SINE_SEGMENTS` (src/rng/cuda.rs, tools/cuda_randn.py) comes from: the GPU's fast
`__sincosf` (FMUL.RZ by 1/(2 pi), then the special-function unit's MUFU.SIN / MUFU.COS),
measured on an NVIDIA GPU and fitted here.

    python tools/cuda_sincos.py probe DIR    # on a CUDA machine with torch and cupy (seconds)
    python tools/cuda_sincos.py fit DIR      # anywhere: derives and checks the segments
    python tools/cuda_sincos.py golden DIR   # writes tests/goldens/cuda_device.json

`probe` writes, lzma-compressed npz files (second differences of the output bits):
  v0..v3.npz.xz  __sincosf(v) for every float v in [0.5, 2 pi] (the four binades), which is
                 every input curand_normal4 produces there;
  misc.npz.xz    `p`: 32768 consecutive floats at the start and the middle of every binade
                 [2**-k, 2**(1-k)), k = 2..33 (sin and cos bits); `a`, `big`, `d`: torch.randn
                 of 1x4x64x64, then 1,100,000, then 16 values from
                 torch.Generator("cuda").manual_seed(0); `props`: SMs and threads per SM.
The files in tests/goldens/cuda_device.json were measured on an H200 (torch 2.11.0+cu130).

`fit` finds: the unit reads t (revolutions) as floor(t * 2**25): 2 quadrant bits and 23 bits
x. sin = G(x), G(~x), -G(x), -G(~x) and cos = G(~x), -G(x), -G(~x), G(x) in quadrants 0..3,
where ~x = 2**23 - 1 - x. G is quadratic on 64 segments (see `quadrant_sine` in
src/rng/cuda.rs): for each segment, the one (c1, c2) and the c0 (a multiple of 2**-25) that
reproduce all 131072 measured outputs are searched around a least-squares fit.
"""

from __future__ import annotations

import io
import json
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_randn import CudaGenerator, f, sincos_fast, toward_zero, truncated_square  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TABLES = [(0x3F000000, 1 << 23), (0x3F800000, 1 << 23), (0x40000000, 1 << 23),
          (0x40800000, 0x490FE0)]
PROBES = [((127 - k) << 23) + o for k in range(2, 34) for o in (0, 0x400000)]
KERNEL = r'''extern "C" __global__ void K(unsigned b, unsigned k, unsigned *o) {
    unsigned i = blockIdx.x * 256 + threadIdx.x;
    if (i < k) { float s, c; __sincosf(__uint_as_float(b + i), &s, &c);
                 o[i] = __float_as_uint(s); o[k + i] = __float_as_uint(c); } }'''


def pack(a: np.ndarray):
    d = np.diff(np.concatenate([[0, 0], a.astype(np.int64)]), 2)
    e = np.nonzero(np.abs(d) > 127)[0]
    return np.clip(d, -128, 127).astype(np.int8), e, d[e]


def unpack(d8, e, ev) -> np.ndarray:
    d = d8.astype(np.int64)
    d[e] = ev
    return np.cumsum(np.cumsum(d)).astype(np.uint32)


def save(path: Path, **arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path.write_bytes(lzma.compress(buf.getvalue()))


def load(path: Path):
    return np.load(io.BytesIO(lzma.decompress(path.read_bytes())))


def probe(out: Path):
    import cupy
    import torch

    kernel = cupy.RawKernel(KERNEL, "K")

    def run(base, count):
        o = cupy.empty(2 * count, cupy.uint32)
        kernel(((count + 255) // 256,), (256,), (np.uint32(base), np.uint32(count), o))
        return o.get().reshape(2, count)

    out.mkdir(parents=True, exist_ok=True)
    for i, (base, count) in enumerate(TABLES):
        s, c = run(base, count)
        (s8, se, sv), (c8, ce, cv) = pack(s), pack(c)
        save(out / f"v{i}.npz.xz", b=np.array([base, count]), s=s8, se=se, sv=sv, c=c8, ce=ce,
             cv=cv)
    g = torch.Generator("cuda").manual_seed(0)
    draws = [torch.randn(n, generator=g, device="cuda").cpu().numpy().view(np.uint32)
             for n in (16384, 1_100_000, 16)]
    p = torch.cuda.get_device_properties(0)
    save(out / "misc.npz.xz", p=np.stack([run(b, 32768) for b in PROBES]), a=draws[0],
         big=draws[1], d=draws[2],
         props=np.array([p.multi_processor_count, p.max_threads_per_multi_processor]))
    print(p.name, torch.__version__)


def revolutions(vbits: np.ndarray) -> np.ndarray:
    return toward_zero(vbits.view(np.float32).astype(np.float64) * f(0x3E22F983))


def measured(dump: Path):
    """(v bits, sin bits, cos bits) of every measured input."""
    for i, (base, count) in enumerate(TABLES):
        z = load(dump / f"v{i}.npz.xz")
        yield (np.arange(count, dtype=np.uint32) + np.uint32(base),
               unpack(z["s"], z["se"], z["sv"]), unpack(z["c"], z["ce"], z["cv"]))
    p = load(dump / "misc.npz.xz")["p"]
    for base, (s, c) in zip(PROBES, p):
        yield np.arange(32768, dtype=np.uint32) + np.uint32(base), s, c


def quadrant_table(dump: Path) -> np.ndarray:
    """G(x) for every x, from the measurements through the quadrant symmetry."""
    q23 = (1 << 23) - 1
    g = np.full(1 << 23, -1, np.int64)
    for vbits, s, c in measured(dump):
        t = revolutions(vbits).astype(np.float64)
        keep = t < 1
        fixed = np.floor(t[keep] * 2.0**25).astype(np.int64)
        q, x = fixed >> 23, fixed & q23
        for out, cos in ((s[keep], False), (c[keep], True)):
            at = np.where((q % 2 == 1) ^ cos, q23 - x, x)
            neg = (q >= 2) if not cos else (q == 1) | (q == 2)
            val = (out.astype(np.int64) ^ np.where(neg, 0x80000000, 0))
            old = g[at]
            assert not np.any((old >= 0) & (old != val)), "quadrant symmetry broken"
            g[at] = val
    assert np.all(g >= 0), f"{np.sum(g < 0)} quadrant inputs were not measured"
    return g.astype(np.uint32)


def fit(dump: Path) -> list:
    g = quadrant_table(dump).view(np.float32).astype(np.float64) * 2.0**37
    xl = np.arange(1 << 17, dtype=np.int64)
    sq = (truncated_square(xl) >> 19).astype(np.float64)
    segments = []
    for i in range(64):
        y = g[i << 17:(i + 1) << 17]
        ulp = np.where(y > 0, 2.0 ** (np.floor(np.log2(np.maximum(y, 1e-300))) - 23), 1.0)
        co = np.linalg.lstsq(np.vstack([np.ones_like(y), xl, sq]).T, y + ulp / 2, rcond=None)[0]
        found = []
        for c1 in range(round(co[1]) - 4, round(co[1]) + 5):
            for c2 in range(round(co[2]) - 3, round(co[2]) + 4):
                rest = c1 * xl + c2 * sq
                lo, hi = np.max(y - rest), np.min(y + ulp - rest)  # y <= V < y + ulp
                c0 = int(np.ceil(lo / 4096))
                if c0 * 4096 < hi:
                    found.append((c0, c1, c2))
        assert len(found) == 1, f"segment {i}: {found}"
        segments += found
    return segments


def check(dump: Path) -> int:
    bad = 0
    for vbits, s, c in measured(dump):
        keep = revolutions(vbits) < 1
        gs, gc = sincos_fast(vbits[keep].view(np.float32))
        bad += int(np.sum(gs.view(np.uint32) != s[keep]) + np.sum(gc.view(np.uint32) != c[keep]))
    return bad


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def golden(dump: Path):
    misc = load(dump / "misc.npz.xz")
    rng = np.random.RandomState(2024)
    rows = []
    for vbits, s, c in measured(dump):
        pick = np.unique(np.concatenate([[0, len(vbits) - 1], rng.randint(0, len(vbits), 24)]))
        keep = pick[revolutions(vbits[pick]) < 1]
        rows += [[int(vbits[k]), int(s[k]), int(c[k])] for k in keep]
    big = misc["big"]
    doc = {
        "source": "tools/cuda_sincos.py golden: measured on an NVIDIA H200 (torch 2.11.0+cu130, "
                  "CUDA 13.0) with tools/cuda_sincos.py probe",
        "multiprocessors": int(misc["props"][0]),
        "max_threads_per_multiprocessor": int(misc["props"][1]),
        "sincos": rows,
        "large": {
            "seed": 0,
            "calls": [
                {"numel": 16384, "fnv1a64": fnv1a64(misc["a"].tobytes())},
                {"numel": len(big), "fnv1a64": fnv1a64(big.tobytes()),
                 "sample_every": 997, "sample_bits": big[::997].tolist()},
                {"numel": 16, "bits": misc["d"].tolist()},
            ],
        },
    }
    path = ROOT / "tests" / "goldens" / "cuda_device.json"
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(rows)} sincos rows")


def main(cmd: str, dump: Path):
    if cmd == "probe":
        probe(dump)
    elif cmd == "fit":
        segments = fit(dump)
        for k in range(0, 64, 3):
            print("    " + " ".join(f"({a}, {b}, {c})," for a, b, c in segments[k:k + 3]))
        from cuda_randn import SINE_SEGMENTS
        print("same as SINE_SEGMENTS:", [tuple(s) for s in segments] == SINE_SEGMENTS)
        print("measured values the model misses:", check(dump))
        gen = CudaGenerator(0)
        misc = load(dump / "misc.npz.xz")
        same = all(np.array_equal(gen.randn(n).view(np.uint32), misc[k])
                   for n, k in ((16384, "a"), (1_100_000, "big"), (16, "d")))
        print("torch.randn draws reproduced:", same)
    elif cmd == "golden":
        golden(dump)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], Path(sys.argv[2]))
