"""The C API of libsdrt through ctypes: finding the library, the structs of include/sdrt.h
and the function prototypes. Everything here mirrors the header one to one; the rest of the
package builds the Python API on top of it.

The struct layouts must match the header exactly: tests/test_layout.py compiles a C program
that prints every size and offset the compiler sees and compares them with these classes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_double,
    c_size_t,
    c_float,
    c_int32,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)

# ---------------------------------------------------------------------------------------------
# Constants (the header's enums; numbers are stable, see sdrt.h)

SDRT_OK = 0
SDRT_ERROR_INVALID_ARGUMENT = 1
SDRT_ERROR_RUNTIME_UNAVAILABLE = 2
SDRT_ERROR_ALREADY_INITIALIZED = 3
SDRT_ERROR_MODEL_NOT_FOUND = 4
SDRT_ERROR_MODEL_INVALID = 5
SDRT_ERROR_PROVIDER_UNAVAILABLE = 6
SDRT_ERROR_INFERENCE = 7
SDRT_ERROR_CANCELLED = 8
SDRT_ERROR_UNSUPPORTED = 9
SDRT_ERROR_IO = 10
SDRT_ERROR_INTERNAL = 11

SDRT_LOG_OFF = 0
SDRT_LOG_ERROR = 1
SDRT_LOG_WARN = 2
SDRT_LOG_INFO = 3
SDRT_LOG_DEBUG = 4

SDRT_PROVIDER_AUTO = 0
SDRT_PROVIDER_CPU = 1
SDRT_PROVIDER_COREML = 2
SDRT_PROVIDER_CUDA = 3
SDRT_PROVIDER_OPENVINO = 4
SDRT_PROVIDER_PLUGIN = 5

SDRT_EP_DEVICE_DEFAULT = 0
SDRT_EP_DEVICE_CPU = 1
SDRT_EP_DEVICE_GPU = 2
SDRT_EP_DEVICE_NPU = 3
SDRT_EP_DEVICE_AUTO = 4

SDRT_EP_PRECISION_AUTO = 0
SDRT_EP_PRECISION_F32 = 1
SDRT_EP_PRECISION_BF16 = 2
SDRT_EP_PRECISION_F16 = 3

SDRT_COREML_ALL = 0
SDRT_COREML_CPU_AND_GPU = 1
SDRT_COREML_CPU_AND_NEURAL_ENGINE = 2
SDRT_COREML_CPU_ONLY = 3

SDRT_SCHEDULER_DEFAULT = 0
SDRT_SCHEDULER_PNDM = 1
SDRT_SCHEDULER_DDIM = 2
SDRT_SCHEDULER_EULER = 3
SDRT_SCHEDULER_EULER_ANCESTRAL = 4
SDRT_SCHEDULER_DPMPP_2M = 5
SDRT_SCHEDULER_DPMPP_2M_KARRAS = 6
SDRT_SCHEDULER_DPMPP_2M_SDE = 7
SDRT_SCHEDULER_LMS = 8
SDRT_SCHEDULER_HEUN = 9
SDRT_SCHEDULER_UNIPC = 10
SDRT_SCHEDULER_LCM = 11
SDRT_SCHEDULER_DDPM = 12

SDRT_GENERATOR_NUMPY = 0
SDRT_GENERATOR_TORCH = 1
SDRT_GENERATOR_TORCH_CUDA = 2

SDRT_PREDICTION_DEFAULT = 0
SDRT_PREDICTION_EPSILON = 1
SDRT_PREDICTION_V = 2
SDRT_PREDICTION_SAMPLE = 3

SDRT_TIMESTEP_SPACING_DEFAULT = 0
SDRT_TIMESTEP_SPACING_LEADING = 1
SDRT_TIMESTEP_SPACING_TRAILING = 2
SDRT_TIMESTEP_SPACING_LINSPACE = 3

SDRT_PIXEL_FORMAT_DEFAULT = 0
SDRT_PIXEL_FORMAT_RGB8 = 1
SDRT_PIXEL_FORMAT_RGBA8 = 2
SDRT_PIXEL_FORMAT_GRAY8 = 3

SDRT_PREVIEW_NONE = 0
SDRT_PREVIEW_LATENT_RGB = 1
SDRT_PREVIEW_TAESD = 2
SDRT_PREVIEW_FULL = 3

SDRT_PROMPT_WEIGHTING_NONE = 0
SDRT_PROMPT_WEIGHTING_A1111 = 1

SDRT_ABI_VERSION = 1
#: At most this many LoRAs per generate call (a #define of the header, since 0.5).
SDRT_MAX_LORAS_PER_CALL = 64

# ---------------------------------------------------------------------------------------------
# Callback types and structs, field for field as in sdrt.h


class sdrt_step_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("step", c_uint32),
        ("total_steps", c_uint32),
        ("preview_kind", c_uint32),
        ("timestep", c_double),
        ("elapsed_seconds", c_double),
        ("preview", POINTER(c_uint8)),
        ("preview_width", c_uint32),
        ("preview_height", c_uint32),
        ("preview_count", c_uint32),
    ]


sdrt_progress_callback = CFUNCTYPE(c_int32, c_void_p, c_uint32, c_uint32)
sdrt_step_callback = CFUNCTYPE(c_int32, c_void_p, POINTER(sdrt_step_info))
sdrt_log_callback = CFUNCTYPE(None, c_void_p, c_uint32, c_char_p)


class sdrt_image_view(Structure):
    _fields_ = [
        ("data", c_void_p),
        ("width", c_uint32),
        ("height", c_uint32),
        ("stride", c_uint32),
        ("format", c_uint32),
    ]


class sdrt_latents(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("count", c_uint32),
        ("channels", c_uint32),
        ("height", c_uint32),
        ("width", c_uint32),
        ("data", POINTER(c_float)),
        ("family", c_char_p),
    ]


class sdrt_lora_weight(Structure):
    _fields_ = [
        ("lora", c_void_p),
        ("scale", c_float),
    ]


class sdrt_controlnet(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("model", c_char_p),
        ("image", sdrt_image_view),
        ("scale", c_float),
        ("start", c_float),
        ("end", c_float),
        ("guess_mode", c_uint32),
    ]


class sdrt_generate_params(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("width", c_uint32),
        ("height", c_uint32),
        ("steps", c_uint32),
        ("guidance", c_float),
        ("scheduler", c_uint32),
        ("seed", c_uint64),
        ("generator", c_uint32),
        ("count", c_uint32),
        ("prompt", c_char_p),
        ("negative_prompt", c_char_p),
        ("progress", sdrt_progress_callback),
        ("progress_user_data", c_void_p),
        ("eta", c_float),
        ("prediction_type", c_uint32),
        ("timestep_spacing", c_uint32),
        ("init_image", sdrt_image_view),
        ("mask", sdrt_image_view),
        ("strength", c_float),
        ("guidance_rescale", c_float),
        ("step_callback", sdrt_step_callback),
        ("step_user_data", c_void_p),
        ("preview_kind", c_uint32),
        ("preview_every", c_uint32),
        ("memory_limit", c_uint64),
        # 0.4: SDXL
        ("prompt_2", c_char_p),
        ("negative_prompt_2", c_char_p),
        ("original_width", c_uint32),
        ("original_height", c_uint32),
        ("crop_x", c_uint32),
        ("crop_y", c_uint32),
        ("target_width", c_uint32),
        ("target_height", c_uint32),
        ("negative_original_width", c_uint32),
        ("negative_original_height", c_uint32),
        ("negative_crop_x", c_uint32),
        ("negative_crop_y", c_uint32),
        ("negative_target_width", c_uint32),
        ("negative_target_height", c_uint32),
        ("aesthetic_score", c_float),
        ("negative_aesthetic_score", c_float),
        ("denoising_start", c_float),
        ("denoising_end", c_float),
        ("output_latents", c_uint32),
        ("latents", POINTER(sdrt_latents)),
        ("prompt_weighting", c_uint32),
        # 0.5: LoRAs chosen per call
        ("loras", POINTER(sdrt_lora_weight)),
        ("lora_count", c_uint32),
        # 0.5: ControlNet
        ("controlnets", POINTER(sdrt_controlnet)),
        ("controlnet_count", c_uint32),
    ]


class sdrt_pipeline_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("provider", c_uint32),
        ("strict_provider", c_uint32),
        ("coreml_compute_units", c_uint32),
        ("coreml_ml_program", c_uint32),
        ("coreml_static_shapes", c_uint32),
        ("static_width", c_uint32),
        ("static_height", c_uint32),
        ("static_count", c_uint32),
        ("cuda_device_id", c_int32),
        ("intra_op_threads", c_uint32),
        ("coreml_cache_dir", c_char_p),
        ("preview_decoder_path", c_char_p),
        ("disable_safety_checker", c_uint32),
        ("log_callback", sdrt_log_callback),
        ("log_level", c_uint32),
        ("log_user_data", c_void_p),
        ("graph_cache_dir", c_char_p),
        ("low_memory", c_uint32),
        ("ep_device", c_uint32),
        ("ep_precision", c_uint32),
        ("ep_library_path", c_char_p),
        ("ep_name", c_char_p),
        ("ep_option_keys", POINTER(c_char_p)),
        ("ep_option_values", POINTER(c_char_p)),
        ("ep_option_count", c_uint32),
    ]


class sdrt_pipeline_info(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("native_width", c_uint32),
        ("native_height", c_uint32),
        ("prediction_type", c_uint32),
        ("default_scheduler", c_uint32),
        ("provider", c_uint32),
        ("default_scheduler_class", c_char_p),
        ("safety_checker", c_uint32),
        ("unet_in_channels", c_uint32),
        ("timestep_cond_dim", c_uint32),
        ("cpu_fallback_graphs", c_uint32),
    ]


class sdrt_runtime_options(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("log_level", c_uint32),
        ("ort_library_path", c_char_p),
        ("log_callback", sdrt_log_callback),
        ("log_user_data", c_void_p),
    ]


#: Every struct the binding declares, for the layout test.
STRUCTS = (
    sdrt_step_info,
    sdrt_image_view,
    sdrt_latents,
    sdrt_lora_weight,
    sdrt_controlnet,
    sdrt_generate_params,
    sdrt_pipeline_options,
    sdrt_pipeline_info,
    sdrt_runtime_options,
)

#: Opaque handles.
pipeline_p = c_void_p
images_p = c_void_p
lora_p = c_void_p

# (name, restype, argtypes) of every function the binding calls.
_PROTOTYPES = [
    ("sdrt_version", c_char_p, []),
    ("sdrt_abi_version", c_uint32, []),
    ("sdrt_status_str", c_char_p, [c_uint32]),
    ("sdrt_last_error_message", c_char_p, []),
    ("sdrt_runtime_options_init_sized", None, [POINTER(sdrt_runtime_options), c_uint32]),
    ("sdrt_runtime_init", c_uint32, [POINTER(sdrt_runtime_options)]),
    ("sdrt_runtime_ort_version", c_char_p, []),
    ("sdrt_runtime_shutdown", None, []),
    ("sdrt_pipeline_options_init_sized", None, [POINTER(sdrt_pipeline_options), c_uint32]),
    ("sdrt_pipeline_create", c_uint32,
     [c_char_p, POINTER(sdrt_pipeline_options), POINTER(pipeline_p)]),
    ("sdrt_pipeline_free", None, [pipeline_p]),
    ("sdrt_pipeline_info_init_sized", None, [POINTER(sdrt_pipeline_info), c_uint32]),
    ("sdrt_pipeline_get_info", c_uint32, [pipeline_p, POINTER(sdrt_pipeline_info)]),
    ("sdrt_generate_params_init_sized", None, [POINTER(sdrt_generate_params), c_uint32]),
    ("sdrt_controlnet_init_sized", None, [POINTER(sdrt_controlnet), c_uint32]),
    ("sdrt_pipeline_generate", c_uint32,
     [pipeline_p, POINTER(sdrt_generate_params), POINTER(images_p)]),
    ("sdrt_pipeline_cancel", None, [pipeline_p]),
    ("sdrt_images_count", c_uint32, [images_p]),
    ("sdrt_images_width", c_uint32, [images_p]),
    ("sdrt_images_height", c_uint32, [images_p]),
    ("sdrt_images_channels", c_uint32, [images_p]),
    ("sdrt_images_data", POINTER(c_uint8), [images_p, c_uint32]),
    ("sdrt_images_flagged", c_int32, [images_p, c_uint32]),
    ("sdrt_images_safety_checked", c_int32, [images_p]),
    ("sdrt_images_latents", c_uint32, [images_p, POINTER(sdrt_latents)]),
    ("sdrt_images_free", None, [images_p]),
    ("sdrt_lora_load", c_uint32, [pipeline_p, c_char_p, POINTER(lora_p)]),
    ("sdrt_lora_free", c_uint32, [pipeline_p, lora_p]),
    ("sdrt_graph_cache_clear", c_uint32, [c_char_p, POINTER(c_uint64)]),
    ("sdrt_ep_devices", c_uint32, [c_char_p, c_char_p, c_size_t, POINTER(c_size_t)]),
]

#: Header functions the binding deliberately does not bind: the plain *_init symbols fill
#: only the first published layout; the binding calls *_init_sized with its struct's size.
UNBOUND = {
    "sdrt_runtime_options_init",
    "sdrt_pipeline_options_init",
    "sdrt_pipeline_info_init",
    "sdrt_generate_params_init",
    "sdrt_controlnet_init",
}

# ---------------------------------------------------------------------------------------------
# Finding and loading libsdrt


class LibraryNotFoundError(OSError):
    """libsdrt could not be found or loaded; the message lists every place tried."""


def library_file_name() -> str:
    if sys.platform == "darwin":
        return "libsdrt.dylib"
    if sys.platform == "win32":
        return "sdrt.dll"
    return "libsdrt.so"


def candidates() -> list:
    """Where libsdrt is looked for, in order: next to this package (a wheel carries it there),
    `$SDRT_LIBRARY` (a file, or a folder holding it), then the system's search
    (`ctypes.util.find_library("sdrt")`)."""
    found = [os.path.join(os.path.dirname(os.path.abspath(__file__)), library_file_name())]
    env = os.environ.get("SDRT_LIBRARY")
    if env:
        found.append(os.path.join(env, library_file_name()) if os.path.isdir(env) else env)
    system = ctypes.util.find_library("sdrt")
    if system:
        found.append(system)
    return found


_lock = threading.Lock()
_lib = None
_lib_path = None


def _bind(lib: ctypes.CDLL) -> None:
    for name, restype, argtypes in _PROTOTYPES:
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes


def load(path: str | None = None) -> ctypes.CDLL:
    """Loads libsdrt once per process (the first call wins; later calls return it). `path`
    names the file explicitly; without it the places of `candidates()` are tried in order."""
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        paths = [path] if path is not None else candidates()
        for p in paths:
            is_file = os.path.isfile(p)
            if not is_file and os.path.sep in p:
                tried.append(f"{p} (no such file)")
                continue
            try:
                lib = ctypes.CDLL(p)
            except OSError as e:
                tried.append(f"{p} ({e})")
                continue
            try:
                _bind(lib)
            except AttributeError as e:
                tried.append(f"{p} (not a libsdrt of this binding's version: {e})")
                continue
            abi = lib.sdrt_abi_version()
            if abi != SDRT_ABI_VERSION:
                tried.append(f"{p} (ABI {abi}, this binding needs {SDRT_ABI_VERSION})")
                continue
            _lib, _lib_path = lib, p
            return lib
        if not paths:
            tried.append("no candidate (set SDRT_LIBRARY to libsdrt's path)")
        raise LibraryNotFoundError(
            "libsdrt not found; tried: " + "; ".join(tried)
            + " (set SDRT_LIBRARY to the path of " + library_file_name() + ")"
        )


def lib() -> ctypes.CDLL:
    """The loaded library, loading it on first use."""
    return _lib if _lib is not None else load()


def library_path() -> str | None:
    """The path libsdrt was loaded from, or None before it is loaded."""
    return _lib_path
