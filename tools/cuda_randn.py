#!/usr/bin/env python3
"""torch's CUDA normal generator on the CPU, in numpy: an independent reference for sdrt's
`TorchCudaGenerator` (src/rng/cuda.rs documents the algorithm), used by
tools/make_cuda_goldens.py to draw the latents and step noise that diffusers is fed.

    CudaGenerator(seed).randn(shape)

equals `torch.randn(shape, generator=torch.Generator("cuda").manual_seed(seed),
device="cuda")` (float32) as drawn on an NVIDIA H200, call after call. Run as a script, it
checks itself against every case of tests/goldens/cuda_randn.json (torch 2.11 on an H200):

    /work/venv/bin/python tools/cuda_randn.py

Float32 arithmetic is done in float64 and rounded once: products of two floats are exact in
float64, and fused multiply-adds are rounded to odd in float64 before rounding to float32,
which gives the correctly rounded result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

H200 = (132, 2048)  # multiprocessors, max threads per multiprocessor
M32 = np.uint64(0xFFFFFFFF)

# The GPU's sine over one quadrant: 64 segments of (c0, c1, c2), see src/rng/cuda.rs.
SINE_SEGMENTS = [
    (0, 25737, -14), (823463, 25730, -48), (1646436, 25706, -76),
    (2468414, 25668, -110), (3288906, 25613, -137), (4107418, 25544, -171),
    (4923453, 25459, -201), (5736526, 25358, -229), (6546141, 25243, -262),
    (7351816, 25112, -292), (8153060, 24966, -322), (8949394, 24805, -352),
    (9740335, 24629, -381), (10525413, 24438, -410), (11304145, 24233, -441),
    (12076070, 24013, -470), (12840725, 23778, -497), (13597643, 23529, -525),
    (14346367, 23266, -553), (15086452, 22989, -581), (15817450, 22698, -608),
    (16538916, 22394, -637), (17250422, 22076, -664), (17951542, 21744, -688),
    (18641840, 21400, -715), (19320916, 21042, -738), (19988350, 20672, -763),
    (20643746, 20290, -790), (21286703, 19895, -812), (21916841, 19489, -839),
    (22533776, 19070, -859), (23137138, 18640, -881), (23726565, 18199, -904),
    (24301698, 17747, -926), (24862194, 17284, -946), (25407711, 16811, -967),
    (25937924, 16328, -988), (26452518, 15834, -1004), (26951170, 15332, -1025),
    (27433593, 14820, -1043), (27899488, 14299, -1059), (28348583, 13769, -1074),
    (28780594, 13232, -1093), (29195273, 12686, -1107), (29592364, 12133, -1123),
    (29971632, 11572, -1136), (30332846, 11004, -1148), (30675788, 10430, -1162),
    (31000253, 9849, -1172), (31306042, 9263, -1185), (31592974, 8671, -1196),
    (31860879, 8073, -1203), (32109590, 7471, -1213), (32338961, 6864, -1220),
    (32548845, 6254, -1230), (32739132, 5639, -1236), (32909694, 5021, -1242),
    (33060432, 4400, -1247), (33191257, 3776, -1250), (33302087, 3151, -1258),
    (33392857, 2523, -1260), (33463517, 1893, -1260), (33514014, 1263, -1263),
    (33544326, 632, -1265),
]


def f(bits: int) -> np.float64:
    return np.float64(np.uint32(bits).view(np.float32))


def to_f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).astype(np.float32)


def fma(a, b, c) -> np.ndarray:
    """float32 fma(a, b, c), correctly rounded (round to odd in float64, then to float32)."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)  # exact
    c = np.broadcast_to(np.asarray(c, np.float64), p.shape)
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)  # s + err == p + c exactly
    even = (s.view(np.uint64) & np.uint64(1)) == 0
    fix = (err != 0) & even
    s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
    return s.astype(np.float32)


def toward_zero(p: np.ndarray) -> np.ndarray:
    """Non-negative float64 to float32, rounded toward zero."""
    r = p.astype(np.float32)
    over = r.astype(np.float64) > p
    return np.where(over, (r.view(np.uint32) - np.uint32(1)).view(np.float32), r)


def philox(c: list, k0: int, k1: int) -> list:
    c = [np.asarray(x, np.uint64) for x in c]
    k0, k1 = np.uint64(k0), np.uint64(k1)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & M32
            k1 = (k1 + np.uint64(0xBB67AE85)) & M32
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        c = [((p1 >> np.uint64(32)) ^ c[1] ^ k0) & M32, p1 & M32,
             ((p0 >> np.uint64(32)) ^ c[3] ^ k1) & M32, p0 & M32]
    return [x.astype(np.uint32) for x in c]


LOGF = [0x3E1039F6, 0xBDF8CDCC, 0x3E0F2955, 0xBE2AD8B9, 0x3E4CED0B, 0xBE7FFF22, 0x3EAAAA78]


def logf(x: np.ndarray) -> np.ndarray:
    """CUDA's logf for normal positive x, as the compiled kernel runs it."""
    bits = x.view(np.uint32)
    e_bits = (bits - np.uint32(0x3F2AAAAB)) & np.uint32(0xFF800000)
    m = (bits - e_bits).view(np.float32)
    fr = to_f32(m.astype(np.float64) - 1.0)
    p = fma(fr, -f(0x3E055027), f(LOGF[0]))
    for c in LOGF[1:]:
        p = fma(fr, p, f(c))
    p = fma(fr, p, -0.5)
    p = to_f32(fr.astype(np.float64) * p)
    p = fma(fr, p, fr)
    e = to_f32(e_bits.view(np.int32).astype(np.float64) * 2.0**-23)
    return fma(e, f(0x3F317218), p)


def truncated_square(xl: np.ndarray) -> np.ndarray:
    s = np.zeros(xl.shape, np.int64)
    for i in range(17):
        bi = (xl >> i) & 1
        if 2 * i >= 19:
            s += bi << (2 * i)
        for j in range(max(0, 18 - i), i):
            s += (bi * ((xl >> j) & 1)) << (i + j + 1)
    return s


def quadrant_sine(x: np.ndarray) -> np.ndarray:
    seg = np.array(SINE_SEGMENTS, np.int64)[x >> 17]
    xl = x & 0x1FFFF
    v = (seg[:, 0] << 12) + seg[:, 1] * xl + seg[:, 2] * (truncated_square(xl) >> 19)
    return toward_zero(v.astype(np.float64) * 2.0**-37)


def sincos_fast(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GPU's __sincosf for v in (0, 2 pi]: FMUL.RZ by 1 / (2 pi), then MUFU.SIN/COS."""
    t = toward_zero(v.astype(np.float64) * f(0x3E22F983))
    fixed = (np.floor(t.astype(np.float64) * 2.0**25).astype(np.int64)) & 0x1FFFFFF
    q, x = fixed >> 23, fixed & 0x7FFFFF
    g, h = quadrant_sine(x), quadrant_sine(0x7FFFFF - x)
    sin = np.select([q == 0, q == 1, q == 2], [g, h, -g], -h)
    cos = np.select([q == 0, q == 1, q == 2], [h, -g, -h], g)
    return sin, cos


class CudaGenerator:
    """torch.Generator("cuda").manual_seed(seed); randn() draws as torch.randn(device="cuda")."""

    def __init__(self, seed: int, device: tuple[int, int] = H200):
        self.seed = seed % 2**64
        self.offset = 0
        sms, threads = device
        self.max_threads = 256 * max(threads // 256, 1) * max(sms, 1)

    def randn(self, shape) -> np.ndarray:
        shape = tuple(shape) if np.iterable(shape) else (shape,)
        n = int(np.prod(shape, dtype=np.int64))
        if n == 0:
            return np.zeros(shape, np.float32)
        stride = min(-(-n // 256) * 256, self.max_threads)
        li = np.arange(n, dtype=np.int64)
        idx, rest = li % stride, li // stride
        it, ii = rest // 4, rest % 4
        ctr = (np.uint64(self.offset // 4) + it.astype(np.uint64))
        words = philox([ctr & M32, ctr >> np.uint64(32), idx.astype(np.uint64) & M32,
                        idx.astype(np.uint64) >> np.uint64(32)],
                       self.seed & 0xFFFFFFFF, self.seed >> 32)
        first = ii < 2
        a = np.where(first, words[0], words[2]).astype(np.float32)
        b = np.where(first, words[1], words[3]).astype(np.float32)
        u = fma(a, 2.0**-32, 2.0**-33)
        r = np.sqrt(to_f32(logf(u).astype(np.float64) * -2.0).astype(np.float64)).astype(np.float32)
        v = fma(b, f(0x30C90FDB), f(0x30490FDB))
        sin, cos = sincos_fast(v)
        out = to_f32(np.where(ii % 2 == 0, sin, cos).astype(np.float64) * r) + np.float32(0.0)
        self.offset += ((n - 1) // (4 * stride) + 1) * 4
        return out.reshape(shape)


def check(path: Path) -> int:
    """Compares with every case of tests/goldens/cuda_randn.json; returns the mismatches."""
    doc = json.loads(path.read_text())
    bad = 0
    seq = None
    for case in doc["cases"]:
        if case["how"] == "sequence":
            seq = seq if seq is not None and case["draw"] > 0 else CudaGenerator(case["seed"])
            g = seq
        else:
            g = CudaGenerator(case["seed"])
        x = g.randn(case["shape"])
        if case["dtype"] == "float32":
            got = x.ravel().view(np.uint32)
        else:
            got = x.astype(np.float16).ravel().view(np.uint16)
        n = int(np.sum(got.astype(np.int64) != np.array(case["bits"], np.int64)))
        bad += n
        print(f"{case['name']:28s} {n} of {got.size} differ")
    return bad


if __name__ == "__main__":
    golden = Path(__file__).resolve().parent.parent / "tests" / "goldens" / "cuda_randn.json"
    sys.exit(1 if check(Path(sys.argv[1]) if len(sys.argv) > 1 else golden) else 0)
