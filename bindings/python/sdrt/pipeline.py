"""`Pipeline`: a loaded model, its generate calls, cancel and close; and the runtime
settings (`init_runtime`, `shutdown_runtime`).

Threads: a pipeline may be used from several Python threads. ctypes releases the GIL for
the whole of each C call, so generate calls on different pipelines run at the same time and
other Python threads keep running; calls on one pipeline are serialized by sdrt. Callbacks
(`on_step`, `log_callback`) take the GIL while they run. The package never writes to stdout
or stderr: sdrt's messages go to `log_callback` or the `logging` logger "sdrt", progress to
`on_step`.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import threading
import weakref
from ctypes import byref, c_char_p, sizeof

from . import _native as n
from ._args import _enum, _float, _name_of, _uint, _utf8
from .errors import CancelledError, check, invalid
from .image import Image, as_image, view_of
from .controlnet import set_controlnet_fields
from .lora import Lora, set_loras
from .sdxl import Latents, read_latents, set_sdxl_fields

# ---------------------------------------------------------------------------------------------
# Names for the header's enums (ints are accepted as well and passed through: sdrt refuses
# unknown numbers with SDRT_ERROR_INVALID_ARGUMENT)

SCHEDULERS = {
    "default": n.SDRT_SCHEDULER_DEFAULT, "pndm": n.SDRT_SCHEDULER_PNDM,
    "ddim": n.SDRT_SCHEDULER_DDIM, "euler": n.SDRT_SCHEDULER_EULER,
    "euler-a": n.SDRT_SCHEDULER_EULER_ANCESTRAL, "dpm++2m": n.SDRT_SCHEDULER_DPMPP_2M,
    "dpm++2m-karras": n.SDRT_SCHEDULER_DPMPP_2M_KARRAS,
    "dpm++2m-sde": n.SDRT_SCHEDULER_DPMPP_2M_SDE, "lms": n.SDRT_SCHEDULER_LMS,
    "heun": n.SDRT_SCHEDULER_HEUN, "unipc": n.SDRT_SCHEDULER_UNIPC,
    "lcm": n.SDRT_SCHEDULER_LCM, "ddpm": n.SDRT_SCHEDULER_DDPM,
}
PROVIDERS = {"auto": n.SDRT_PROVIDER_AUTO, "cpu": n.SDRT_PROVIDER_CPU,
             "coreml": n.SDRT_PROVIDER_COREML, "cuda": n.SDRT_PROVIDER_CUDA,
             "openvino": n.SDRT_PROVIDER_OPENVINO, "plugin": n.SDRT_PROVIDER_PLUGIN}
EP_DEVICES = {"default": n.SDRT_EP_DEVICE_DEFAULT, "cpu": n.SDRT_EP_DEVICE_CPU,
              "gpu": n.SDRT_EP_DEVICE_GPU, "npu": n.SDRT_EP_DEVICE_NPU,
              "auto": n.SDRT_EP_DEVICE_AUTO}
EP_PRECISIONS = {"auto": n.SDRT_EP_PRECISION_AUTO, "f32": n.SDRT_EP_PRECISION_F32,
                 "bf16": n.SDRT_EP_PRECISION_BF16, "f16": n.SDRT_EP_PRECISION_F16}
GENERATORS = {"numpy": n.SDRT_GENERATOR_NUMPY, "torch": n.SDRT_GENERATOR_TORCH,
              "torch-cuda": n.SDRT_GENERATOR_TORCH_CUDA}
PREDICTION_TYPES = {"default": n.SDRT_PREDICTION_DEFAULT, "epsilon": n.SDRT_PREDICTION_EPSILON,
                    "v_prediction": n.SDRT_PREDICTION_V, "sample": n.SDRT_PREDICTION_SAMPLE}
TIMESTEP_SPACINGS = {"default": n.SDRT_TIMESTEP_SPACING_DEFAULT,
                     "leading": n.SDRT_TIMESTEP_SPACING_LEADING,
                     "trailing": n.SDRT_TIMESTEP_SPACING_TRAILING,
                     "linspace": n.SDRT_TIMESTEP_SPACING_LINSPACE}
PREVIEWS = {"none": n.SDRT_PREVIEW_NONE, "latent_rgb": n.SDRT_PREVIEW_LATENT_RGB,
            "taesd": n.SDRT_PREVIEW_TAESD, "full": n.SDRT_PREVIEW_FULL}
PROMPT_WEIGHTINGS = {"none": n.SDRT_PROMPT_WEIGHTING_NONE, "a1111": n.SDRT_PROMPT_WEIGHTING_A1111}
COREML_COMPUTE_UNITS = {"all": n.SDRT_COREML_ALL, "cpu_and_gpu": n.SDRT_COREML_CPU_AND_GPU,
                        "cpu_and_neural_engine": n.SDRT_COREML_CPU_AND_NEURAL_ENGINE,
                        "cpu_only": n.SDRT_COREML_CPU_ONLY}
LOG_LEVELS = {"off": n.SDRT_LOG_OFF, "error": n.SDRT_LOG_ERROR, "warn": n.SDRT_LOG_WARN,
              "warning": n.SDRT_LOG_WARN, "info": n.SDRT_LOG_INFO, "debug": n.SDRT_LOG_DEBUG}

# sdrt_log_level <-> logging levels.
_TO_LOGGING = {n.SDRT_LOG_ERROR: logging.ERROR, n.SDRT_LOG_WARN: logging.WARNING,
               n.SDRT_LOG_INFO: logging.INFO, n.SDRT_LOG_DEBUG: logging.DEBUG}

logger = logging.getLogger("sdrt")
# A library's logger gets no handler but this one (the logging HOWTO's advice): without it,
# Python's last-resort handler would print sdrt's warnings to stderr in a host that has not
# configured logging. Hosts that want them add a handler (or call logging.basicConfig()).
logger.addHandler(logging.NullHandler())


def _log_level_for(target, level) -> int:
    if level is not None:
        return _enum(LOG_LEVELS, "log_level", level)
    if isinstance(target, logging.Logger):
        eff = target.getEffectiveLevel()
        if eff <= logging.DEBUG:
            return n.SDRT_LOG_DEBUG
        if eff <= logging.INFO:
            return n.SDRT_LOG_INFO
        if eff <= logging.WARNING:
            return n.SDRT_LOG_WARN
        if eff <= logging.ERROR:
            return n.SDRT_LOG_ERROR
        return n.SDRT_LOG_OFF
    return n.SDRT_LOG_WARN


def _log_trampoline(target):
    """A C log callback forwarding to a `logging.Logger` or a callable(level, message),
    `level` a `logging` level. It never lets an exception reach C (ctypes would print it);
    it may run on any thread, including ONNX Runtime's, and takes the GIL to do so."""
    if isinstance(target, logging.Logger):
        def emit(level, text):
            target.log(level, "%s", text)
    else:
        emit = target

    def callback(_user_data, level, message):
        _in_log_callback.depth = getattr(_in_log_callback, "depth", 0) + 1
        try:
            emit(_TO_LOGGING.get(level, logging.DEBUG),
                 message.decode("utf-8", "replace") if message else "")
        except BaseException:  # noqa: BLE001 - nothing may unwind into sdrt
            pass
        finally:
            _in_log_callback.depth -= 1

    return n.sdrt_log_callback(callback)


# Set on a thread while it runs a log callback (any thread: ONNX Runtime's too).
_in_log_callback = threading.local()


def _not_from_a_log_callback(what: str) -> None:
    """sdrt's log callbacks must not call sdrt (sdrt.h, `sdrt_log_callback`): sdrt may hold
    its logger while it calls them, so such a call would wait for itself (init_runtime also
    waited for the binding's own lock, held by the call that is logging). Raised instead."""
    if getattr(_in_log_callback, "depth", 0):
        raise RuntimeError(
            f"{what} from a log callback: sdrt's log callbacks must not call sdrt (it may hold "
            "its logger while it calls them); do it after the call that logs returns"
        )


# ---------------------------------------------------------------------------------------------
# Runtime

_runtime_lock = threading.Lock()
_runtime = {"initialized": False, "ort_library": None, "callback": None, "level": None,
            "target": None}


def init_runtime(ort_library=None, *, log_callback=None, log_level=None) -> None:
    """Loads ONNX Runtime and sets the process-wide log settings (`sdrt_runtime_init`).
    Optional: the first `Pipeline` does it with defaults. `ort_library` is the path of the
    ONNX Runtime library (the only one tried when given); without it sdrt searches
    `$SDRT_ORT_LIBRARY`, `$ORT_DYLIB_PATH`, libsdrt's folder, then the system.
    `log_callback` (a `logging.Logger` or a callable(level, message)) receives the messages
    that belong to no pipeline; None keeps them out of Python. Calling again updates the
    logging; another `ort_library` than the loaded one raises `AlreadyInitializedError`.
    Not from a log callback (raises RuntimeError: sdrt may be holding its logger)."""
    _not_from_a_log_callback("sdrt.init_runtime()")
    lib = n.lib()
    with _runtime_lock:
        opts = n.sdrt_runtime_options()
        lib.sdrt_runtime_options_init_sized(byref(opts), sizeof(opts))
        path = _utf8("ort_library", ort_library) if ort_library is not None else None
        opts.ort_library_path = path
        cb = _log_trampoline(log_callback) if log_callback is not None else None
        if cb is not None:
            opts.log_callback = cb
        opts.log_level = _log_level_for(log_callback, log_level)
        check(lib.sdrt_runtime_init(byref(opts)))
        # The old callback may be dropped only now: sdrt no longer calls it.
        _runtime.update(initialized=True, callback=cb, level=log_level, target=log_callback)
        if path is not None:
            _runtime["ort_library"] = path
        if cb is not None and not _runtime.get("atexit"):
            import atexit

            atexit.register(shutdown_runtime)
            _runtime["atexit"] = True


def _ensure_runtime(ort_library) -> None:
    if ort_library is None:
        return
    path = _utf8("ort_library", ort_library)
    if _runtime["initialized"] and _runtime["ort_library"] == path:
        return
    init_runtime(path, log_callback=_runtime["target"], log_level=_runtime["level"])


def shutdown_runtime() -> None:
    """Detaches the runtime's log callback (`sdrt_runtime_shutdown`); ONNX Runtime stays
    loaded. Registered with `atexit` when `init_runtime` set a callback, so that sdrt never
    calls into a finalized interpreter. Not from a log callback (raises RuntimeError)."""
    if n.library_path() is None:
        return
    _not_from_a_log_callback("sdrt.shutdown_runtime()")
    n.lib().sdrt_runtime_shutdown()
    with _runtime_lock:
        _runtime.update(callback=None, target=None, level=None)


def ort_version() -> str | None:
    """The loaded ONNX Runtime's version, or None before the runtime is initialized."""
    v = n.lib().sdrt_runtime_ort_version()
    return v.decode() if v else None


def version() -> str:
    """libsdrt's version, "MAJOR.MINOR.PATCH"."""
    return n.lib().sdrt_version().decode()


def clear_graph_cache(directory) -> int:
    """Empties a graph cache folder (`sdrt_graph_cache_clear`); returns the bytes freed."""
    freed = ctypes.c_uint64(0)
    check(n.lib().sdrt_graph_cache_clear(_utf8("directory", directory), byref(freed)))
    return freed.value


def ep_devices(plugin_library=None) -> list:
    """Every device of every execution provider ONNX Runtime knows (`sdrt_ep_devices`): the
    built-in providers' and the registered plugin libraries', after registering
    `plugin_library` when given. Each is a dict: `ep_name`, `ep_vendor`, `device` ("cpu",
    "gpu", "npu"), `vendor`, `vendor_id`, `device_id`, `ep_metadata`, `device_metadata`."""
    raw = None if plugin_library is None else _utf8("plugin_library", plugin_library)
    lib = n.lib()
    while True:  # the list can grow between the calls (another thread registering a library)
        needed = ctypes.c_size_t(0)
        check(lib.sdrt_ep_devices(raw, None, 0, byref(needed)))
        buf = ctypes.create_string_buffer(needed.value)
        status = lib.sdrt_ep_devices(raw, buf, len(buf), byref(needed))
        if status == n.SDRT_OK:
            return json.loads(buf.value.decode())
        if needed.value <= len(buf):
            check(status)


# ---------------------------------------------------------------------------------------------
# Results and progress


class StepInfo:
    """What `on_step` receives after each UNet evaluation: `step` (1-based), `total_steps`,
    `timestep`, `elapsed_seconds`, and `previews` (a list of `Image`, one per image of the
    call, on steps with a preview; else empty). The previews are copies: keep them."""

    __slots__ = ("step", "total_steps", "timestep", "elapsed_seconds", "preview_kind",
                 "previews")

    def __init__(self, info):
        self.step = info.step
        self.total_steps = info.total_steps
        self.timestep = info.timestep
        self.elapsed_seconds = info.elapsed_seconds
        self.previews = []
        self.preview_kind = None
        if info.struct_size >= sizeof(n.sdrt_step_info) and info.preview:
            self.preview_kind = _name_of(PREVIEWS, info.preview_kind)
            w, h = info.preview_width, info.preview_height
            size = w * h * 3
            base = ctypes.cast(info.preview, ctypes.c_void_p).value
            for i in range(info.preview_count):
                self.previews.append(Image(w, h, ctypes.string_at(base + i * size, size)))

    def __repr__(self) -> str:
        return (f"<sdrt.StepInfo {self.step}/{self.total_steps} t={self.timestep:g} "
                f"previews={len(self.previews)}>")


class PipelineInfo:
    """What a pipeline loaded (`sdrt_pipeline_get_info`)."""

    __slots__ = ("native_width", "native_height", "prediction_type", "default_scheduler",
                 "default_scheduler_class", "provider", "safety_checker",
                 "unet_in_channels", "timestep_cond_dim", "cpu_fallback_graphs")

    def __init__(self, info):
        self.native_width = info.native_width
        self.native_height = info.native_height
        self.prediction_type = _name_of(PREDICTION_TYPES, info.prediction_type)
        self.default_scheduler = _name_of(SCHEDULERS, info.default_scheduler)
        self.default_scheduler_class = (info.default_scheduler_class or b"").decode()
        self.provider = _name_of(PROVIDERS, info.provider)
        self.safety_checker = bool(info.safety_checker)
        self.unet_in_channels = info.unet_in_channels
        self.timestep_cond_dim = info.timestep_cond_dim
        # Graphs a plugin provider could not build, running on the CPU provider instead.
        self.cpu_fallback_graphs = info.cpu_fallback_graphs

    def __repr__(self) -> str:
        return "<sdrt.PipelineInfo " + " ".join(
            f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ">"


def _collect(lib, images) -> list:
    try:
        count = lib.sdrt_images_count(images)
        w, h = lib.sdrt_images_width(images), lib.sdrt_images_height(images)
        c = lib.sdrt_images_channels(images)
        checked = lib.sdrt_images_safety_checked(images) == 1
        out = []
        for i in range(count):
            data = ctypes.string_at(lib.sdrt_images_data(images, i), w * h * c)
            out.append(Image(w, h, data, "RGB", flagged=lib.sdrt_images_flagged(images, i) == 1,
                             safety_checked=checked))
        return out
    finally:
        lib.sdrt_images_free(images)


# ---------------------------------------------------------------------------------------------
# Pipeline


class _Handle:
    """The C pipeline and what must live as long as it: the log callback. Separate from
    `Pipeline` so that `weakref.finalize` can free it (also at interpreter exit, while the
    interpreter still runs the callbacks) without keeping the Pipeline alive."""

    def __init__(self):
        self.ptr = None
        self.keep = None
        self.cond = threading.Condition()
        self.active = 0
        self.closing = False
        self.local = threading.local()

    def enter(self):
        with self.cond:
            if self.ptr is None or self.closing:
                raise ValueError("the pipeline is closed")
            self.active += 1
        self.local.depth = getattr(self.local, "depth", 0) + 1

    def leave(self):
        self.local.depth -= 1
        with self.cond:
            self.active -= 1
            self.cond.notify_all()

    def inside(self) -> bool:
        return getattr(self.local, "depth", 0) > 0


def _free(h: _Handle) -> None:
    """Cancels the calls in flight, waits for them to return, then frees the pipeline."""
    lib = n.lib()
    with h.cond:
        if h.ptr is None:
            return
        h.closing = True
        while h.active:
            # Repeated: a call that entered sdrt after a cancel is not affected by it.
            lib.sdrt_pipeline_cancel(h.ptr)
            h.cond.wait(0.05)
        ptr, h.ptr = h.ptr, None
    lib.sdrt_pipeline_free(ptr)  # may still log: the callback lives until it returns
    h.keep = None


class Pipeline:
    """A loaded model folder (an `optimum-cli export onnx` Stable Diffusion folder).

        with sdrt.Pipeline("models/sd21-base", provider="cpu") as pipe:
            image = pipe.generate("a lighthouse at dusk", steps=30, seed=42)[0]

    Options (see `sdrt_pipeline_options` in sdrt.h): `provider` ("auto", "cpu", "coreml",
    "cuda", "openvino", "plugin"), `strict_provider`, the plugin providers' `ep_device`
    ("default", "cpu", "gpu", "npu", "auto"), `ep_precision` (OpenVINO's: "auto", "f32",
    "bf16", "f16"), `ep_library` (the plugin library; OpenVINO's default: $SDRT_OPENVINO_EP,
    else openvino/ beside ONNX Runtime), `ep_name` and `ep_options` (a dict of str to str), `cuda_device_id`, `intra_op_threads`,
    `coreml_compute_units`, `coreml_ml_program`, `coreml_static_shapes`, `static_width`,
    `static_height`, `static_count`, `coreml_cache_dir`, `preview_decoder` (a TAESD
    `model.onnx`), `disable_safety_checker`, `graph_cache_dir` (None: the platform's cache
    folder; "": no cache), `low_memory` (hold only the running stage's graph), and
    `ort_library` (the ONNX Runtime library, passed to `init_runtime` before the first
    pipeline).

    Logging: `log_callback` is a `logging.Logger` (default: the logger "sdrt") or a
    callable(level, message) with `level` a `logging` level; `log_level` ("off", "error",
    "warn", "info", "debug"; default: from the logger's effective level, else "warn"). It
    receives this pipeline's messages only, possibly from ONNX Runtime's threads.

    `close()` (or leaving the `with` block) frees the pipeline: calls in flight on other
    threads are cancelled and waited for first. A pipeline not closed is freed when it is
    garbage-collected or at interpreter exit.
    """

    def __init__(self, path, provider="auto", *, strict_provider=False, cuda_device_id=0,
                 intra_op_threads=0, coreml_compute_units="all", coreml_ml_program=True,
                 coreml_static_shapes=False, static_width=0, static_height=0, static_count=0,
                 coreml_cache_dir=None, preview_decoder=None, disable_safety_checker=False,
                 graph_cache_dir=None, low_memory=False, ort_library=None, log_callback=None,
                 log_level=None, ep_device="default", ep_precision="auto", ep_library=None,
                 ep_name=None, ep_options=None):
        _not_from_a_log_callback("sdrt.Pipeline()")
        self._h = _Handle()
        self.path = os.fspath(path) if isinstance(path, os.PathLike) else path
        lib = n.lib()
        _ensure_runtime(ort_library)
        raw_path = _utf8("path", path)
        o = n.sdrt_pipeline_options()
        lib.sdrt_pipeline_options_init_sized(byref(o), sizeof(o))
        o.provider = _enum(PROVIDERS, "provider", provider)
        o.strict_provider = 1 if strict_provider else 0
        if not isinstance(cuda_device_id, int) or not -(1 << 31) <= cuda_device_id < (1 << 31):
            raise invalid(f"cuda_device_id: {cuda_device_id!r} is not a 32-bit integer")
        o.cuda_device_id = cuda_device_id
        o.intra_op_threads = _uint("intra_op_threads", intra_op_threads, 32)
        o.coreml_compute_units = _enum(COREML_COMPUTE_UNITS, "coreml_compute_units",
                                       coreml_compute_units)
        o.coreml_ml_program = 1 if coreml_ml_program else 0
        o.coreml_static_shapes = 1 if coreml_static_shapes else 0
        o.static_width = _uint("static_width", static_width, 32)
        o.static_height = _uint("static_height", static_height, 32)
        o.static_count = _uint("static_count", static_count, 32)
        strings = []  # keep the encoded strings alive for the call
        for field, value in (("coreml_cache_dir", coreml_cache_dir),
                             ("preview_decoder_path", preview_decoder),
                             ("graph_cache_dir", graph_cache_dir)):
            if value is not None:
                raw = _utf8(field, value)
                strings.append(raw)
                setattr(o, field, raw)
        o.disable_safety_checker = 1 if disable_safety_checker else 0
        o.low_memory = 1 if low_memory else 0
        o.ep_device = _enum(EP_DEVICES, "ep_device", ep_device)
        o.ep_precision = _enum(EP_PRECISIONS, "ep_precision", ep_precision)
        for field, value in (("ep_library_path", ep_library), ("ep_name", ep_name)):
            if value is not None:
                raw = _utf8(field, value)
                strings.append(raw)
                setattr(o, field, raw)
        if ep_options:
            if not isinstance(ep_options, dict):
                raise TypeError("ep_options: expected a dict of str to str")
            keys = [_utf8(f"ep_options key {k!r}", k) for k in ep_options]
            values = [_utf8(f"ep_options[{k!r}]", v) for k, v in ep_options.items()]
            key_array = (c_char_p * len(keys))(*keys)
            value_array = (c_char_p * len(values))(*values)
            strings += [key_array, value_array]
            o.ep_option_keys = key_array
            o.ep_option_values = value_array
            o.ep_option_count = len(keys)
        target = logger if log_callback is None else log_callback
        if not (isinstance(target, logging.Logger) or callable(target)):
            raise TypeError("log_callback: expected a logging.Logger or a callable")
        log_cb = _log_trampoline(target)
        o.log_callback = log_cb
        o.log_level = _log_level_for(target, log_level)
        out = n.pipeline_p()
        status = lib.sdrt_pipeline_create(raw_path, byref(o), byref(out))
        check(status)
        self._h.ptr = out.value
        self._h.keep = log_cb
        self._finalizer = weakref.finalize(self, _free, self._h)

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Frees the pipeline (idempotent). Calls in flight on other threads are cancelled
        and waited for. Not from this pipeline's own callback (raises RuntimeError)."""
        if self._h.inside():
            raise RuntimeError("Pipeline.close() from one of its own callbacks; close it "
                               "after generate returns")
        _not_from_a_log_callback("Pipeline.close()")
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._h.ptr is None

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<sdrt.Pipeline {self.path!r} {state}>"

    # -- LoRAs ---------------------------------------------------------------------------------

    def load_lora(self, path) -> Lora:
        """Loads the LoRA file at `path` into this pipeline (`sdrt_lora_load`) and returns it
        as an `sdrt.Lora`, for `generate(loras=[(lora, scale)])` to apply per call. Files:
        safetensors in diffusers/PEFT form (`save_lora_weights`) or kohya's, on the UNet's and
        text encoders' linear layers. The first LoRA on a layer rebuilds the graphs it touches
        (through the graph cache); choosing LoRAs between calls rebuilds nothing.

        The pipeline owns it: `lora.free()` frees it early, `close()` frees every one still
        loaded. Errors: `InvalidArgumentError` (not safetensors, a rank mismatch, keys that
        match no layer of this model, ...: the message names the key), `ModelNotFoundError`
        (no such file), `UnsupportedError` (DoRA, LoHa, LoKr); the pipeline keeps working.
        Waits for a call in progress; not from this pipeline's callbacks (RuntimeError) or a
        log callback (RuntimeError). Releases the GIL while sdrt runs."""
        _not_from_a_log_callback("Pipeline.load_lora()")
        h = self._h
        if h.inside():
            raise RuntimeError("Pipeline.load_lora() from one of its own callbacks; load it "
                               "after generate returns")
        raw_path = _utf8("path", path)
        h.enter()
        try:
            out = n.lora_p()
            check(n.lib().sdrt_lora_load(h.ptr, raw_path, byref(out)))
            return Lora(h, out.value, os.fspath(path) if isinstance(path, os.PathLike)
                        else path)
        finally:
            h.leave()

    # -- calls ---------------------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancels every generate call running or waiting on this pipeline (they raise
        `CancelledError`). Any thread, including an `on_step` callback; a no-op once
        closed."""
        h = self._h
        with h.cond:
            if h.ptr is not None:
                n.lib().sdrt_pipeline_cancel(h.ptr)

    @property
    def info(self) -> PipelineInfo:
        """What the pipeline loaded: native size, provider, scheduler, channels."""
        h = self._h
        h.enter()
        try:
            lib = n.lib()
            info = n.sdrt_pipeline_info()
            lib.sdrt_pipeline_info_init_sized(byref(info), sizeof(info))
            check(lib.sdrt_pipeline_get_info(h.ptr, byref(info)))
            return PipelineInfo(info)
        finally:
            h.leave()

    def generate(self, prompt="", *, negative_prompt=None, steps=None, guidance=None,
                 seed=None, width=None, height=None, count=None, scheduler=None,
                 generator=None, eta=None, prediction_type=None, timestep_spacing=None,
                 init_image=None, mask=None, strength=None, guidance_rescale=None,
                 on_step=None, preview=None, preview_every=None, memory_limit=None,
                 prompt_2=None, negative_prompt_2=None, original_size=None,
                 crops_coords_top_left=None, target_size=None, negative_original_size=None,
                 negative_crops_coords_top_left=None, negative_target_size=None,
                 aesthetic_score=None, negative_aesthetic_score=None, denoising_start=None,
                 denoising_end=None, latents=None, output_latents=False,
                 prompt_weighting=None, controlnets=None, loras=None):
        """Generates `count` images (default 1) and returns them as a list of `Image`
        (RGB, width x height). Arguments left None keep sdrt's defaults (steps 50,
        guidance 7.5, seed 0, the model's native size and scheduler, numpy generator).

        `scheduler`: a name of `SCHEDULERS` ("pndm", "euler-a", "dpm++2m", ...);
        `generator`: "numpy", "torch" or "torch-cuda" (torch's CUDA generator, computed on the
        CPU); `init_image`: image-to-image (an `Image`, a
        `(pixels, width, height)` RGB tuple, a numpy array or a PIL image), with `strength`;
        `init_image` and `mask` (GRAY8 in any of those forms): inpainting.
        `on_step(info: StepInfo)` runs on this thread after each UNet evaluation; returning
        False cancels. An exception it raises cancels the call and is re-raised here once
        sdrt has returned. `preview` ("latent_rgb", "taesd", "full") adds previews to
        `StepInfo.previews` every `preview_every` evaluations. `prompt_weighting`: "none"
        (default: literal text, truncated to 75 tokens) or "a1111" (A1111's emphasis syntax,
        `(word:1.3)`, and long prompts in chunks; SD 1.x/2.x). `controlnets`: a list of
        `sdrt.ControlNet` (see there); the model's UNet must take ControlNet residuals.
        `loras`: the LoRAs this call applies, from this pipeline's `load_lora`: a list of
        `(lora, scale)` pairs (scale 1.0: as trained; diffusers' `adapter_weights` /
        `lora_scale`) or bare `Lora`s (scale 1.0); several add up. Only this call uses them:
        the next call chooses its own.

        SDXL (see sdrt.sdxl; other models refuse the first eight): `prompt_2`,
        `negative_prompt_2`, and diffusers' micro-conditioning in diffusers' order:
        `original_size`, `target_size` and their negatives as (height, width),
        `crops_coords_top_left` and `negative_crops_coords_top_left` as (top, left);
        `aesthetic_score` and `negative_aesthetic_score` (a refiner's). The hand-off:
        `denoising_end` (a fraction in (0, 1)) with `output_latents=True` returns an
        `sdrt.Latents` instead of images; `latents=` that object with `denoising_start`
        continues them (a refiner after its base).

        Errors raise a subclass of `SdrtError` (`InvalidArgumentError`, `CancelledError`,
        ...). Releases the GIL while sdrt runs. Not from a log callback (RuntimeError)."""
        _not_from_a_log_callback("Pipeline.generate()")
        h = self._h
        h.enter()
        try:
            sdxl = dict(prompt_2=prompt_2, negative_prompt_2=negative_prompt_2,
                        original_size=original_size,
                        crops_coords_top_left=crops_coords_top_left, target_size=target_size,
                        negative_original_size=negative_original_size,
                        negative_crops_coords_top_left=negative_crops_coords_top_left,
                        negative_target_size=negative_target_size,
                        aesthetic_score=aesthetic_score,
                        negative_aesthetic_score=negative_aesthetic_score,
                        denoising_start=denoising_start, denoising_end=denoising_end,
                        latents=latents, output_latents=output_latents)
            return self._generate(h, prompt, negative_prompt, steps, guidance, seed, width,
                                  height, count, scheduler, generator, eta, prediction_type,
                                  timestep_spacing, init_image, mask, strength,
                                  guidance_rescale, on_step, preview, preview_every,
                                  memory_limit, sdxl, prompt_weighting, controlnets, loras)
        finally:
            h.leave()

    def _generate(self, h, prompt, negative_prompt, steps, guidance, seed, width, height,
                  count, scheduler, generator, eta, prediction_type, timestep_spacing,
                  init_image, mask, strength, guidance_rescale, on_step, preview,
                  preview_every, memory_limit, sdxl, prompt_weighting=None, controlnets=None,
                  loras=None):
        lib = n.lib()
        p = n.sdrt_generate_params()
        lib.sdrt_generate_params_init_sized(byref(p), sizeof(p))
        keep = []  # everything C points to during the call
        prompt_raw = _utf8("prompt", prompt if prompt is not None else "")
        keep.append(prompt_raw)
        p.prompt = prompt_raw
        if negative_prompt is not None:
            neg = _utf8("negative_prompt", negative_prompt)
            keep.append(neg)
            p.negative_prompt = neg
        for field, value in (("width", width), ("height", height), ("steps", steps),
                             ("count", count), ("preview_every", preview_every)):
            if value is not None:
                setattr(p, field, _uint(field, value, 32))
        if seed is not None:
            p.seed = _uint("seed", seed, 64)
        if memory_limit is not None:
            p.memory_limit = _uint("memory_limit", memory_limit, 64)
        for field, value in (("guidance", guidance), ("eta", eta), ("strength", strength),
                             ("guidance_rescale", guidance_rescale)):
            if value is not None:
                setattr(p, field, _float(field, value))
        for field, table, value in (("scheduler", SCHEDULERS, scheduler),
                                    ("generator", GENERATORS, generator),
                                    ("prediction_type", PREDICTION_TYPES, prediction_type),
                                    ("timestep_spacing", TIMESTEP_SPACINGS, timestep_spacing)):
            if value is not None:
                setattr(p, field, _enum(table, field, value))
        if preview is not None:
            p.preview_kind = _enum(PREVIEWS, "preview", preview)
        if prompt_weighting is not None:
            p.prompt_weighting = _enum(PROMPT_WEIGHTINGS, "prompt_weighting", prompt_weighting)
        if init_image is not None:
            view, buf = view_of(as_image(init_image, "init_image", False), "init_image", False)
            keep.append(buf)
            p.init_image = view
        if mask is not None:
            view, buf = view_of(as_image(mask, "mask", True), "mask", True)
            keep.append(buf)
            p.mask = view
        set_sdxl_fields(p, keep, sdxl)
        set_controlnet_fields(p, keep, controlnets)
        if loras is not None:
            set_loras(p, keep, loras)

        raised = []
        if on_step is not None:
            if not callable(on_step):
                raise TypeError("on_step: expected a callable")

            def step(_user_data, info_p):
                try:
                    return 0 if on_step(StepInfo(info_p.contents)) is False else 1
                except BaseException as e:  # noqa: BLE001 - re-raised after the call
                    raised.append(e)
                    return 0  # cancels this call (and only this one)

            step_cb = n.sdrt_step_callback(step)
            keep.append(step_cb)
            p.step_callback = step_cb

        out = n.images_p()
        status = lib.sdrt_pipeline_generate(h.ptr, byref(p), byref(out))
        if status == n.SDRT_OK:
            images = read_latents(lib, out) if p.output_latents else _collect(lib, out)
        if raised:
            raise raised[0]
        check(status)
        del keep
        return images


__all__ = ["Pipeline", "PipelineInfo", "StepInfo", "Image", "Latents", "Lora",
           "CancelledError",
           "init_runtime",
           "shutdown_runtime", "ort_version", "version", "clear_graph_cache"]
