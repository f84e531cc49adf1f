import CSdrt
import Foundation

/// The process-wide part of sdrt: ONNX Runtime loading and versions (`sdrt_runtime_*`).
///
/// Optional: the first `Pipeline` initializes the runtime with defaults, searching
/// `$SDRT_ORT_LIBRARY`, `$ORT_DYLIB_PATH`, libsdrt's own folder, then the system. Call
/// `initialize` first to name the ONNX Runtime library an app bundles.
public enum Runtime {
    /// Loads ONNX Runtime (`sdrt_runtime_init`): `onnxRuntimeLibrary` is then the only file
    /// tried. Messages that belong to no pipeline are dropped above `logLevel`.
    public static func initialize(onnxRuntimeLibrary: URL? = nil,
                                  logLevel: LogLevel = .warn) throws {
        var options = sdrt_runtime_options()
        sdrt_runtime_options_init_sized(&options,
                                        UInt32(MemoryLayout<sdrt_runtime_options>.size))
        options.log_level = logLevel.rawValue
        guard let library = onnxRuntimeLibrary else {
            try SdrtError.check(sdrt_runtime_init(&options))
            return
        }
        try library.withUnsafeFileSystemRepresentation { path in
            options.ort_library_path = path
            try SdrtError.check(sdrt_runtime_init(&options))
        }
    }

    /// Detaches the runtime's log settings (`sdrt_runtime_shutdown`); ONNX Runtime stays loaded.
    public static func shutdown() {
        sdrt_runtime_shutdown()
    }

    /// Empties a `Pipeline.Options.graphCacheDirectory` (`sdrt_graph_cache_clear`) and returns
    /// the bytes freed. Not while a pipeline using that cache is being created.
    @discardableResult
    public static func clearGraphCache(at directory: URL) throws -> UInt64 {
        var freed: UInt64 = 0
        try directory.withUnsafeFileSystemRepresentation { path in
            try SdrtError.check(sdrt_graph_cache_clear(path, &freed))
        }
        return freed
    }

    /// The loaded ONNX Runtime's version, `nil` before it is loaded.
    public static var onnxRuntimeVersion: String? {
        sdrt_runtime_ort_version().map { String(cString: $0) }
    }

    /// The library's version (`sdrt_version`), e.g. "0.2.0".
    public static var version: String {
        sdrt_version().map { String(cString: $0) } ?? ""
    }

    /// The library's ABI version (`sdrt_abi_version`); this binding was written for
    /// `SDRT_ABI_VERSION` of the header it was built with.
    public static var abiVersion: UInt32 { sdrt_abi_version() }

    /// True when the loaded library speaks the ABI of the header this binding was built with.
    public static var isCompatible: Bool { sdrt_abi_version() == UInt32(SDRT_ABI_VERSION) }
}
