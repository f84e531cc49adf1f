"""The exception hierarchy: one subclass of `SdrtError` per sdrt status code, each carrying
the status number, its name and sdrt's message."""

from __future__ import annotations

from . import _native as n


class SdrtError(Exception):
    """A failed sdrt call. `status` is the `sdrt_status` number, `status_name` its name
    (e.g. "SDRT_ERROR_CANCELLED"), `message` sdrt's own message."""

    status = None  # set on each subclass

    def __init__(self, message: str, status: int | None = None, status_name: str | None = None):
        if status is not None:
            self.status = status
        self.status_name = status_name or _STATUS_NAMES.get(self.status, "SDRT_ERROR_UNKNOWN")
        self.message = message
        super().__init__(f"{self.status_name}: {message}" if message else self.status_name)


class InvalidArgumentError(SdrtError, ValueError):
    """An argument is missing, out of range or malformed (SDRT_ERROR_INVALID_ARGUMENT)."""

    status = n.SDRT_ERROR_INVALID_ARGUMENT


class RuntimeUnavailableError(SdrtError):
    """ONNX Runtime could not be loaded, or is too old (SDRT_ERROR_RUNTIME_UNAVAILABLE)."""

    status = n.SDRT_ERROR_RUNTIME_UNAVAILABLE


class AlreadyInitializedError(SdrtError):
    """The runtime was initialized with another ONNX Runtime library
    (SDRT_ERROR_ALREADY_INITIALIZED)."""

    status = n.SDRT_ERROR_ALREADY_INITIALIZED


class ModelNotFoundError(SdrtError):
    """The model folder or one of its files does not exist (SDRT_ERROR_MODEL_NOT_FOUND)."""

    status = n.SDRT_ERROR_MODEL_NOT_FOUND


class ModelInvalidError(SdrtError):
    """The model folder's configs or graphs are not usable (SDRT_ERROR_MODEL_INVALID)."""

    status = n.SDRT_ERROR_MODEL_INVALID


class ProviderUnavailableError(SdrtError):
    """A strictly requested provider is missing (SDRT_ERROR_PROVIDER_UNAVAILABLE)."""

    status = n.SDRT_ERROR_PROVIDER_UNAVAILABLE


class InferenceError(SdrtError):
    """ONNX Runtime failed while running a graph (SDRT_ERROR_INFERENCE)."""

    status = n.SDRT_ERROR_INFERENCE


class CancelledError(SdrtError):
    """The generation was cancelled (SDRT_ERROR_CANCELLED)."""

    status = n.SDRT_ERROR_CANCELLED


class UnsupportedError(SdrtError):
    """The feature is not built in this version (SDRT_ERROR_UNSUPPORTED)."""

    status = n.SDRT_ERROR_UNSUPPORTED


class SdrtIOError(SdrtError):
    """A file could not be read or written (SDRT_ERROR_IO)."""

    status = n.SDRT_ERROR_IO


class InternalError(SdrtError):
    """A bug in sdrt (SDRT_ERROR_INTERNAL)."""

    status = n.SDRT_ERROR_INTERNAL


#: status number -> exception class.
ERRORS = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        RuntimeUnavailableError,
        AlreadyInitializedError,
        ModelNotFoundError,
        ModelInvalidError,
        ProviderUnavailableError,
        InferenceError,
        CancelledError,
        UnsupportedError,
        SdrtIOError,
        InternalError,
    )
}

_STATUS_NAMES = {
    n.SDRT_ERROR_INVALID_ARGUMENT: "SDRT_ERROR_INVALID_ARGUMENT",
    n.SDRT_ERROR_RUNTIME_UNAVAILABLE: "SDRT_ERROR_RUNTIME_UNAVAILABLE",
    n.SDRT_ERROR_ALREADY_INITIALIZED: "SDRT_ERROR_ALREADY_INITIALIZED",
    n.SDRT_ERROR_MODEL_NOT_FOUND: "SDRT_ERROR_MODEL_NOT_FOUND",
    n.SDRT_ERROR_MODEL_INVALID: "SDRT_ERROR_MODEL_INVALID",
    n.SDRT_ERROR_PROVIDER_UNAVAILABLE: "SDRT_ERROR_PROVIDER_UNAVAILABLE",
    n.SDRT_ERROR_INFERENCE: "SDRT_ERROR_INFERENCE",
    n.SDRT_ERROR_CANCELLED: "SDRT_ERROR_CANCELLED",
    n.SDRT_ERROR_UNSUPPORTED: "SDRT_ERROR_UNSUPPORTED",
    n.SDRT_ERROR_IO: "SDRT_ERROR_IO",
    n.SDRT_ERROR_INTERNAL: "SDRT_ERROR_INTERNAL",
}


def error_from_status(status: int, message: str = "") -> SdrtError:
    """The exception for `status` (an unknown number gives a plain `SdrtError`)."""
    cls = ERRORS.get(status)
    if cls is None:
        name = n.lib().sdrt_status_str(status).decode("utf-8", "replace")
        return SdrtError(message, status=status, status_name=name)
    return cls(message)


def check(status: int) -> None:
    """Raises the exception for a failed call, with the calling thread's last message (read
    at once, on the thread that made the call: sdrt keeps it thread-locally)."""
    if status != n.SDRT_OK:
        raw = n.lib().sdrt_last_error_message()
        raise error_from_status(status, raw.decode("utf-8", "replace") if raw else "")


def invalid(message: str) -> InvalidArgumentError:
    """An `InvalidArgumentError` raised by the binding itself, before any C call."""
    return InvalidArgumentError(message)
