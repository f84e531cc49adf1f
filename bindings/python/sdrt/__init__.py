"""sdrt: Stable Diffusion on ONNX Runtime, from Python.

A ctypes binding of libsdrt's C API (include/sdrt.h): no compiled extension, and no
dependency beyond the standard library (numpy and Pillow are used only by
`Image.to_numpy()` / `Image.to_pil()` and when such objects are passed in).

    import sdrt

    with sdrt.Pipeline("tests/fixtures/tiny-sd2", provider="cpu") as pipe:
        image = pipe.generate("a lighthouse at dusk", steps=20, seed=42)[0]
    open("out.ppm", "wb").write(image.to_ppm())

libsdrt is found next to this package (wheels carry it there), then at `$SDRT_LIBRARY`,
then through the system's library search; `sdrt.load_library(path)` names it explicitly.
ONNX Runtime: `Pipeline(..., ort_library=PATH)` or `sdrt.init_runtime(PATH)`, else sdrt's
own search (`$SDRT_ORT_LIBRARY`, `$ORT_DYLIB_PATH`, libsdrt's folder, the system).

The package never writes to stdout or stderr and keeps no state outside its own module:
messages go to the `logging` logger "sdrt" (or a per-pipeline `log_callback`), progress to
`on_step` callbacks.
"""

from ._native import LibraryNotFoundError, library_path
from ._native import load as load_library
from .errors import (
    AlreadyInitializedError,
    CancelledError,
    InferenceError,
    InternalError,
    InvalidArgumentError,
    ModelInvalidError,
    ModelNotFoundError,
    ProviderUnavailableError,
    RuntimeUnavailableError,
    SdrtError,
    SdrtIOError,
    UnsupportedError,
)
from .controlnet import ControlNet
from .image import Image
from .pipeline import (
    GENERATORS,
    PREVIEWS,
    PROVIDERS,
    SCHEDULERS,
    Latents,
    Lora,
    Pipeline,
    PipelineInfo,
    StepInfo,
    clear_graph_cache,
    ep_devices,
    init_runtime,
    ort_version,
    shutdown_runtime,
    version,
)

# The binding's version, its one source (pyproject.toml reads it): the version of the libsdrt
# it is released with, Cargo.toml's (tests/test_version.py checks the three agree).
__version__ = "0.5.0"

__all__ = [
    "AlreadyInitializedError", "CancelledError", "ControlNet", "GENERATORS", "Image", "InferenceError",
    "InternalError", "InvalidArgumentError", "Latents", "LibraryNotFoundError", "Lora",
    "ModelInvalidError",
    "ModelNotFoundError", "PREVIEWS", "PROVIDERS", "Pipeline", "PipelineInfo",
    "ProviderUnavailableError", "RuntimeUnavailableError", "SCHEDULERS", "SdrtError",
    "SdrtIOError", "StepInfo", "UnsupportedError", "clear_graph_cache", "ep_devices",
    "init_runtime", "library_path", "load_library", "ort_version", "shutdown_runtime", "version",
]
