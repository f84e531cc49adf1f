"""Images as plain bytes plus their size: what `Pipeline.generate` returns and what
`init_image` / `mask` take. numpy and Pillow are optional: `to_numpy()` / `to_pil()` import
them only when called, and arrays or PIL images passed in are recognized without importing
either module."""

from __future__ import annotations

from . import _native as n
from .errors import invalid

_CHANNELS = {"RGB": 3, "RGBA": 4, "L": 1}
_FORMATS = {"RGB": n.SDRT_PIXEL_FORMAT_RGB8, "RGBA": n.SDRT_PIXEL_FORMAT_RGBA8,
            "L": n.SDRT_PIXEL_FORMAT_GRAY8}


class Image:
    """`height` rows of `width` pixels in `pixels` (bytes), row `y` at `y * stride`.
    `mode` is "RGB" (what sdrt generates), "RGBA" or "L" (one gray channel, for masks).
    `safety_checked` is True when the model folder's safety checker ran on the image
    (`sdrt_images_safety_checked`: SD 1.x folders that ship one, unless disabled), and
    `flagged` when it blacked the image out (`sdrt_images_flagged`)."""

    __slots__ = ("width", "height", "stride", "mode", "pixels", "flagged", "safety_checked")

    def __init__(self, width: int, height: int, pixels, mode: str = "RGB", stride: int = 0,
                 flagged: bool = False, safety_checked: bool = False):
        if mode not in _CHANNELS:
            raise invalid(f"image mode {mode!r}: expected one of RGB, RGBA, L")
        width, height, stride = int(width), int(height), int(stride)
        if width < 0 or height < 0 or stride < 0:
            raise invalid(f"image size {width}x{height} stride {stride}: negative")
        row = width * _CHANNELS[mode]
        stride = stride or row
        if stride < row:
            raise invalid(f"image stride {stride} is below width x channels = {row}")
        pixels = bytes(pixels) if not isinstance(pixels, bytes) else pixels
        need = stride * (height - 1) + row if height else 0
        if len(pixels) < need:
            raise invalid(
                f"image of {width}x{height} {mode} with stride {stride} needs {need} bytes, "
                f"got {len(pixels)}"
            )
        self.width, self.height, self.stride, self.mode = width, height, stride, mode
        self.pixels = pixels
        self.flagged = bool(flagged)
        self.safety_checked = bool(safety_checked)

    @property
    def channels(self) -> int:
        return _CHANNELS[self.mode]

    @property
    def size(self) -> tuple:
        return (self.width, self.height)

    def __repr__(self) -> str:
        return f"<sdrt.Image {self.width}x{self.height} {self.mode}>"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.size, self.mode) == (other.size, other.mode) and \
            self.packed() == other.packed()

    __hash__ = None

    def packed(self) -> bytes:
        """The pixels with rows packed (no padding between rows)."""
        row = self.width * self.channels
        if self.stride == row:
            return self.pixels[: row * self.height]
        return b"".join(self.pixels[y * self.stride: y * self.stride + row]
                        for y in range(self.height))

    def to_ppm(self) -> bytes:
        """A binary PPM (RGB) or PGM (L) file's bytes; needs no other module."""
        if self.mode == "RGBA":
            raise invalid("to_ppm: RGBA has no PPM form")
        magic = b"P6" if self.mode == "RGB" else b"P5"
        return magic + b"\n%d %d\n255\n" % (self.width, self.height) + self.packed()

    def to_numpy(self):
        """A (height, width, channels) uint8 array, or (height, width) for "L". Needs numpy."""
        import numpy as np

        rows = np.frombuffer(self.pixels, dtype=np.uint8, count=self.stride * self.height)
        rows = rows.reshape(self.height, self.stride)[:, : self.width * self.channels]
        shape = (self.height, self.width) if self.mode == "L" else \
            (self.height, self.width, self.channels)
        return rows.reshape(shape).copy()

    def to_pil(self):
        """A PIL.Image of the same mode. Needs Pillow."""
        from PIL import Image as PILImage

        return PILImage.frombytes(self.mode, (self.width, self.height), self.pixels, "raw",
                                  self.mode, self.stride)

    @classmethod
    def from_numpy(cls, array) -> "Image":
        """From a uint8 array of shape (h, w), (h, w, 1), (h, w, 3) or (h, w, 4)."""
        import numpy as np

        a = np.asarray(array)
        if a.dtype != np.uint8:
            raise invalid(f"array dtype {a.dtype}: expected uint8")
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.ndim == 2:
            mode = "L"
        elif a.ndim == 3 and a.shape[2] in (3, 4):
            mode = "RGB" if a.shape[2] == 3 else "RGBA"
        else:
            raise invalid(f"array shape {a.shape}: expected (h, w), (h, w, 3) or (h, w, 4)")
        a = np.ascontiguousarray(a)
        return cls(a.shape[1], a.shape[0], a.tobytes(), mode)

    @classmethod
    def from_pil(cls, image, mode: str | None = None) -> "Image":
        """From a PIL image; modes other than RGB, RGBA and L are converted to `mode`
        (default RGB)."""
        if image.mode not in _CHANNELS or (mode is not None and image.mode != mode):
            image = image.convert(mode or "RGB")
        return cls(image.size[0], image.size[1], image.tobytes(), image.mode)


def as_image(value, field: str, gray: bool) -> Image:
    """`value` as an `Image`: an Image, a numpy array, a PIL image, any object with `width`,
    `height` and `pixels` (and optionally `stride`, `mode`), or a `(pixels, width, height)`
    tuple (RGB8 for init images, GRAY8 for masks)."""
    if isinstance(value, Image):
        return value
    if isinstance(value, tuple) and len(value) == 3:
        pixels, width, height = value
        return Image(width, height, pixels, "L" if gray else "RGB")
    module = type(value).__module__ or ""
    if hasattr(value, "__array_interface__") and module.split(".")[0] == "numpy":
        return Image.from_numpy(value)
    if module.startswith("PIL.") and hasattr(value, "tobytes") and hasattr(value, "mode"):
        if gray:
            return Image.from_pil(value, None if value.mode == "L" else "L")
        return Image.from_pil(value, None if value.mode in ("RGB", "RGBA") else "RGB")
    if all(hasattr(value, a) for a in ("width", "height", "pixels")):
        mode = getattr(value, "mode", "L" if gray else "RGB")
        return Image(value.width, value.height, value.pixels, mode, getattr(value, "stride", 0))
    raise TypeError(
        f"{field}: expected an sdrt.Image, a (pixels, width, height) tuple, a numpy array or "
        f"a PIL image, got {type(value).__name__}"
    )


def view_of(image: Image, field: str, gray: bool):
    """An `sdrt_image_view` of `image` and the buffer it points into (keep both alive for
    the call). The mode must suit the field: RGB/RGBA for init images, L for masks."""
    if gray and image.mode != "L":
        raise invalid(f"{field}: a mask is one gray channel (mode L), got {image.mode}")
    if not gray and image.mode == "L":
        raise invalid(f"{field}: an init image is RGB or RGBA, got a gray (L) image")
    import ctypes

    for name, v in (("width", image.width), ("height", image.height), ("stride", image.stride)):
        if v > 0xFFFFFFFF:
            raise invalid(f"{field}: {name} {v} does not fit in 32 bits")
    # c_char_p points into the bytes object itself: no copy; the caller keeps it alive.
    buf = ctypes.c_char_p(image.pixels) if image.pixels else None
    view = n.sdrt_image_view(
        data=ctypes.cast(buf, ctypes.c_void_p) if buf is not None else None,
        width=image.width, height=image.height, stride=image.stride,
        format=_FORMATS[image.mode],
    )
    return view, (buf, image.pixels)
