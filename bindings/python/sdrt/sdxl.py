"""SDXL's part of a generate call: the second prompts, the micro-conditioning, the aesthetic
scores, `denoising_start`/`denoising_end`, and `Latents` for the base-to-refiner hand-off
(`output_latents=True` returns them; `latents=` starts a call from them).

Sizes and crops take diffusers' order, as its SDXL pipelines' arguments of the same names do:
`original_size=(height, width)`, `crops_coords_top_left=(top, left)`; sdrt's C fields are
width/height and x/y, and this module swaps them.
"""

from __future__ import annotations

import ctypes
from array import array
from ctypes import byref, sizeof

from . import _native as n
from ._args import _float, _uint, _utf8
from .errors import check, invalid


class Latents:
    """Latents in a model's UNet space: `count x channels x height x width` float32 values,
    row-major, in the latent space of `family` ("sd", "sdxl"). What `generate(...,
    output_latents=True)` returns (a copy, owned by Python), and what `generate(...,
    latents=...)` takes, usually with `denoising_start` (a refiner after its base).

    `data` is an `array("f")`; the constructor takes any float sequence or buffer of float32
    (a numpy array included) of `count * channels * height * width` values."""

    __slots__ = ("shape", "family", "data")

    def __init__(self, data, shape, family: str = "sdxl"):
        shape = tuple(int(d) for d in shape)
        if len(shape) != 4 or any(d <= 0 for d in shape):
            raise invalid(f"latents: shape {shape!r}: expected (count, channels, height, width)")
        if not isinstance(family, str) or not family:
            raise invalid("latents: family must be a non-empty str")
        values = array("f")
        if isinstance(data, (bytes, bytearray, memoryview)):
            values.frombytes(bytes(data))
        elif hasattr(data, "astype") and hasattr(data, "tobytes"):  # numpy, not imported
            values.frombytes(data.astype("float32").tobytes())
        else:
            values.extend(float(x) for x in data)
        want = shape[0] * shape[1] * shape[2] * shape[3]
        if len(values) != want:
            raise invalid(f"latents: {len(values)} values for shape {shape!r} ({want} needed)")
        self.shape = shape
        self.family = family
        self.data = values

    @property
    def count(self) -> int:
        return self.shape[0]

    def to_numpy(self):
        """The values as a float32 numpy array of `shape` (imports numpy)."""
        import numpy as np

        return np.frombuffer(self.data.tobytes(), dtype=np.float32).reshape(self.shape)

    def __repr__(self) -> str:
        return f"<sdrt.Latents {'x'.join(map(str, self.shape))} {self.family}>"


def read_latents(lib, images) -> Latents:
    """Copies the latents of `images` (a call with output_latents) and frees the images."""
    try:
        view = n.sdrt_latents()
        view.struct_size = sizeof(view)
        check(lib.sdrt_images_latents(images, byref(view)))
        shape = (view.count, view.channels, view.height, view.width)
        size = shape[0] * shape[1] * shape[2] * shape[3] * 4
        raw = ctypes.string_at(ctypes.cast(view.data, ctypes.c_void_p).value, size)
        return Latents(raw, shape, view.family.decode())
    finally:
        lib.sdrt_images_free(images)


def _pair(field: str, value, swap: bool):
    """A (height, width) size or (top, left) crop as the C fields' (width, height) / (x, y)."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise invalid(f"{field}: expected a pair of integers, got {value!r}") from None
    a, b = _uint(field, a, 32), _uint(field, b, 32)
    return (b, a) if swap else (a, b)


#: generate()'s SDXL arguments -> the C fields they fill (width/x first).
_SIZES = {
    "original_size": ("original_width", "original_height"),
    "crops_coords_top_left": ("crop_x", "crop_y"),
    "target_size": ("target_width", "target_height"),
    "negative_original_size": ("negative_original_width", "negative_original_height"),
    "negative_crops_coords_top_left": ("negative_crop_x", "negative_crop_y"),
    "negative_target_size": ("negative_target_width", "negative_target_height"),
}
_FLOATS = ("aesthetic_score", "negative_aesthetic_score", "denoising_start", "denoising_end")


def set_sdxl_fields(p, keep: list, args: dict) -> None:
    """Fills the SDXL fields of `p` from generate()'s arguments (None keeps sdrt's default);
    everything C points to goes into `keep` for the duration of the call."""
    for field in ("prompt_2", "negative_prompt_2"):
        if args.get(field) is not None:
            raw = _utf8(field, args[field])
            keep.append(raw)
            setattr(p, field, raw)
    for arg, (fx, fy) in _SIZES.items():
        if args.get(arg) is not None:
            x, y = _pair(arg, args[arg], swap=True)
            setattr(p, fx, x)
            setattr(p, fy, y)
    for field in _FLOATS:
        if args.get(field) is not None:
            setattr(p, field, _float(field, args[field]))
    if args.get("output_latents"):
        p.output_latents = 1
    latents = args.get("latents")
    if latents is not None:
        if not isinstance(latents, Latents):
            raise TypeError("latents: expected sdrt.Latents")
        family = _utf8("latents.family", latents.family)
        buf = (ctypes.c_float * len(latents.data)).from_buffer(latents.data)
        data = ctypes.cast(buf, ctypes.POINTER(ctypes.c_float))
        view = n.sdrt_latents(sizeof(n.sdrt_latents), *latents.shape, data, family)
        keep.extend((family, buf, view))
        p.latents = ctypes.pointer(view)
