"""ControlNets in a generate call (`generate(..., controlnets=[...])`): see `ControlNet`."""

from __future__ import annotations

from ctypes import byref, sizeof

from . import _native as n
from ._args import _float, _utf8
from .errors import invalid
from .image import as_image, view_of


class ControlNet:
    """One ControlNet of a call, as diffusers' ControlNet pipelines take it.

    `model`: a folder name under the model's `controlnet/` ("canny" for
    `controlnet/canny/model.onnx`), or a path with a "/" to such a folder or `.onnx` file.
    `image`: the control image, of the output's size (an `Image`, an RGB `(pixels, width,
    height)` tuple, a numpy array or a PIL image; not resized). `scale`:
    `controlnet_conditioning_scale`; `start`, `end`: `control_guidance_start`/`_end`, fractions
    of the steps; `guess_mode`: diffusers' guess mode. The model's UNet must take ControlNet
    residuals (tools/export_controlnet.py). Several ControlNets add their residuals."""

    __slots__ = ("model", "image", "scale", "start", "end", "guess_mode")

    def __init__(self, model: str, image, scale: float = 1.0, start: float = 0.0,
                 end: float = 1.0, guess_mode: bool = False):
        self.model = model
        self.image = image
        self.scale = scale
        self.start = start
        self.end = end
        self.guess_mode = guess_mode

    def __repr__(self):
        return (f"ControlNet({self.model!r}, scale={self.scale}, start={self.start}, "
                f"end={self.end}, guess_mode={self.guess_mode})")


def set_controlnet_fields(p, keep: list, controlnets) -> None:
    """Fills `p.controlnets`/`controlnet_count` from a list of `ControlNet`; what C points to
    goes to `keep` (alive for the call)."""
    if controlnets is None:
        return
    nets = list(controlnets)
    if not nets:
        return
    lib = n.lib()
    arr = (n.sdrt_controlnet * len(nets))()
    for k, c in enumerate(nets):
        if not isinstance(c, ControlNet):
            raise TypeError(f"controlnets[{k}]: expected an sdrt.ControlNet, "
                            f"got {type(c).__name__}")
        field = f"controlnets[{k}]"
        e = arr[k]
        lib.sdrt_controlnet_init_sized(byref(e), sizeof(e))
        model = _utf8(f"{field}.model", c.model)
        keep.append(model)
        e.model = model
        view, buf = view_of(as_image(c.image, f"{field}.image", False), f"{field}.image", False)
        keep.append(buf)
        e.image = view
        e.scale = _float(f"{field}.scale", c.scale)
        e.start = _float(f"{field}.start", c.start)
        e.end = _float(f"{field}.end", c.end)
        if not isinstance(c.guess_mode, bool):
            raise invalid(f"{field}.guess_mode: expected a bool")
        e.guess_mode = 1 if c.guess_mode else 0
    keep.append(arr)
    p.controlnets = arr
    p.controlnet_count = len(nets)
