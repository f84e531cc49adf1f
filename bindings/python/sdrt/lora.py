"""LoRAs chosen per call: `Pipeline.load_lora(path)` loads one into its pipeline and returns
a `Lora`; `generate(..., loras=[(lora, scale), ...])` applies any of them to that call only.

sdrt's C API keeps a pipeline's LoRAs loaded and lets each call choose (`sdrt_lora_load`,
`sdrt_generate_params.loras`): diffusers' `load_lora_weights` + `set_adapters(names,
adapter_weights=...)` without the state between calls. The pipeline owns its LoRAs: a `Lora`
is freed by `free()` (or leaving its `with` block), or with its pipeline.
"""

from __future__ import annotations

import ctypes
import threading

from . import _native as n
from ._args import _float
from .errors import check


class Lora:
    """A LoRA loaded into one `Pipeline` (`Pipeline.load_lora`). Pass it to that pipeline's
    `generate(loras=[(lora, scale)])`; a bare `Lora` there is scale 1.0.

    `free()` releases its matrices now (idempotent; the pipeline keeps the graph branches it
    added, so another LoRA on the same layers loads without a rebuild); the pipeline's
    `close()` frees every LoRA still loaded. A freed LoRA, or one of another pipeline, is
    refused by generate with `InvalidArgumentError`. Garbage collection does not free it (a
    free waits for the pipeline's call in progress, which a collection must never do): free
    it, use `with pipe.load_lora(path) as lora:`, or let the pipeline free it."""

    __slots__ = ("path", "_h", "_raw", "_freed", "_lock", "__weakref__")

    def __init__(self, handle, raw: int, path: str):
        self._h = handle  # the pipeline's _Handle: its C pointer, lock and callback depth
        self._raw = raw
        self._freed = False
        self._lock = threading.Lock()  # one free at a time
        self.path = path

    @property
    def freed(self) -> bool:
        """Whether it was freed, by `free()` or with its pipeline."""
        return self._freed or self._h.ptr is None

    def free(self) -> None:
        """Frees the LoRA (`sdrt_lora_free`); waits for a call in progress on the pipeline. A
        no-op when already freed, or once the pipeline is closed (which freed it). Not from
        the pipeline's own callbacks (raises RuntimeError: it would wait for itself)."""
        h = self._h
        if self._freed:
            return
        if h.inside():
            raise RuntimeError("Lora.free() from one of its pipeline's callbacks; free it "
                               "after generate returns")
        try:
            h.enter()
        except ValueError:  # closed: sdrt_pipeline_free freed it
            self._freed = True
            return
        try:
            with self._lock:
                if not self._freed:
                    check(n.lib().sdrt_lora_free(h.ptr, self._raw))
                    self._freed = True
        finally:
            h.leave()

    def __enter__(self) -> "Lora":
        return self

    def __exit__(self, *exc) -> None:
        self.free()

    def __repr__(self) -> str:
        return f"<sdrt.Lora {self.path!r}{' freed' if self.freed else ''}>"


def weights_of(loras) -> list:
    """generate()'s `loras` as [(Lora, float)]: a `Lora`, or a list of `Lora` and
    `(Lora, scale)` pairs (a bare `Lora` is scale 1.0)."""
    if isinstance(loras, Lora):
        loras = [loras]
    if isinstance(loras, (str, bytes)) or not hasattr(loras, "__iter__"):
        raise TypeError(f"loras: expected a list of sdrt.Lora or (sdrt.Lora, scale) pairs, "
                        f"got {loras!r}")
    out = []
    for i, item in enumerate(loras):
        if isinstance(item, Lora):
            lora, scale = item, 1.0
        else:
            try:
                lora, scale = item
            except (TypeError, ValueError):
                raise TypeError(f"loras[{i}]: expected an sdrt.Lora or an (sdrt.Lora, scale) "
                                f"pair, got {item!r}") from None
            if not isinstance(lora, Lora):
                raise TypeError(f"loras[{i}]: expected an sdrt.Lora, got {lora!r}")
            scale = _float(f"loras[{i}] scale", scale)
        out.append((lora, scale))
    return out


def set_loras(p, keep: list, loras) -> None:
    """Fills `p.loras` / `p.lora_count` from generate()'s `loras` (the array goes into `keep`
    for the call). sdrt checks the rest: each handle loaded in this pipeline (a freed one's or
    another pipeline's handle is refused, never reused), finite scales, at most
    `SDRT_MAX_LORAS_PER_CALL`."""
    pairs = weights_of(loras)
    if not pairs:
        return
    array = (n.sdrt_lora_weight * len(pairs))(
        *(n.sdrt_lora_weight(lora._raw, scale) for lora, scale in pairs))
    keep.append(array)
    p.loras = ctypes.cast(array, ctypes.POINTER(n.sdrt_lora_weight))
    p.lora_count = len(pairs)
