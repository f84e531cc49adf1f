//! The engine's error type. Every fallible engine function returns [`Result`]; the C layer maps
//! an [`Error`] to an `sdrt_status` in exactly one place (`ffi::status`).

use std::fmt;

/// What went wrong, coarse enough for a C caller to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A caller-supplied value is out of range, malformed or missing.
    InvalidArgument,
    /// ONNX Runtime could not be loaded, or is too old.
    RuntimeUnavailable,
    /// The runtime was already initialized with different settings.
    AlreadyInitialized,
    /// A model folder or one of its files does not exist.
    ModelNotFound,
    /// A model folder exists but its configs or ONNX graphs are not usable.
    ModelInvalid,
    /// A strictly requested execution provider is not in the loaded ONNX Runtime.
    ProviderUnavailable,
    /// ONNX Runtime failed while running a graph.
    Inference,
    /// The caller cancelled the generation.
    Cancelled,
    /// The feature is not implemented in this build.
    Unsupported,
    /// Reading or writing a file failed.
    Io,
    /// A bug in sdrt (a caught panic, a broken invariant).
    Internal,
}

/// An error with its kind and a message for humans.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// `Result` with sdrt's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Creates an error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for [`ErrorKind::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// Shorthand for [`ErrorKind::ModelInvalid`].
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::ModelInvalid, message)
    }

    /// Shorthand for [`ErrorKind::Internal`]: a broken invariant.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Shorthand for [`ErrorKind::Unsupported`].
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// Prefixes the message with context, keeping the kind.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl<R> From<ort::Error<R>> for Error {
    fn from(e: ort::Error<R>) -> Self {
        Error::new(ErrorKind::Inference, format!("ONNX Runtime: {e}"))
    }
}
