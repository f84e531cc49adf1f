import CSdrt
import Foundation

extension Pipeline {
    /// The process-wide part of sdrt: ONNX Runtime loading, the runtime's log handler and
    /// versions (`sdrt_runtime_*`). Nested in `Pipeline` so that an app importing Combine or
    /// Apple's StableDiffusion as well sees no second top-level `Runtime`.
    ///
    /// Optional: the first `Pipeline` initializes the runtime with defaults, searching
    /// `$SDRT_ORT_LIBRARY`, `$ORT_DYLIB_PATH`, libsdrt's own folder, then the system. Call
    /// `initialize` first to name the ONNX Runtime library an app bundles (on iOS: the binary
    /// of the dynamic ONNX Runtime framework the app embeds), or to receive the messages that
    /// belong to no pipeline's own handler.
    public enum Runtime {
        /// Loads ONNX Runtime and sets the runtime's logging (`sdrt_runtime_init`).
        ///
        /// - `onnxRuntimeLibrary`: a file URL, then the only library tried (a URL that is not
        ///   a file URL throws `SdrtError.invalidArgument`); `nil` searches as described above.
        /// - `logHandler` receives, up to `logLevel`, the process-wide messages: loading ONNX
        ///   Runtime (a failure too, as an `.error` with the thrown error's text: the handler
        ///   is attached before the search), ONNX Runtime's messages that belong to no session,
        ///   and every message of a pipeline created without a handler of its own. It may be
        ///   called from any thread, concurrently. `nil` detaches the previous one.
        ///
        /// Calling it again updates the logging; naming another library than the loaded one
        /// throws `SdrtError.alreadyInitialized` and changes nothing.
        public static func initialize(
            onnxRuntimeLibrary: URL? = nil, logLevel: LogLevel = .warn,
            logHandler: (@Sendable (LogLevel, String) -> Void)? = nil
        ) throws {
            var options = sdrt_runtime_options()
            sdrt_runtime_options_init_sized(&options,
                                            UInt32(MemoryLayout<sdrt_runtime_options>.size))
            options.log_level = logLevel.rawValue
            try RuntimeLog.shared.replace(with: logHandler) { box in
                if let box {
                    options.log_user_data = box.toOpaque()
                    options.log_callback = logTrampoline
                }
                try withOptionalPath(onnxRuntimeLibrary, field: "onnxRuntimeLibrary") { path in
                    options.ort_library_path = path
                    try SdrtError.check(sdrt_runtime_init(&options))
                }
            }
        }

        /// Detaches the runtime's log handler (`sdrt_runtime_shutdown`); ONNX Runtime stays
        /// loaded and pipelines keep working.
        public static func shutdown() {
            RuntimeLog.shared.detach { sdrt_runtime_shutdown() }
        }

        /// Empties a `Pipeline.Options.graphCacheDirectory` (`sdrt_graph_cache_clear`) and
        /// returns the bytes freed. Not while a pipeline using that cache is being created.
        @discardableResult
        public static func clearGraphCache(at directory: URL) throws -> UInt64 {
            var freed: UInt64 = 0
            try withFilePath(directory, field: "directory") { path in
                try SdrtError.check(sdrt_graph_cache_clear(path, &freed))
            }
            return freed
        }

        /// Every device of every execution provider ONNX Runtime knows (`sdrt_ep_devices`):
        /// the built-in providers' and those of the plugin libraries registered so far, after
        /// registering `pluginLibrary` (a file URL) when given. Initializes the runtime with
        /// defaults when needed. The OpenVINO plugin lists Intel hardware only.
        public static func executionProviderDevices(pluginLibrary: URL? = nil) throws
            -> [ExecutionProviderDevice]
        {
            var text = [CChar]()
            try withOptionalPath(pluginLibrary, field: "pluginLibrary") { path in
                // The list can grow between the calls (another thread registering a library).
                while true {
                    var needed = 0
                    try SdrtError.check(sdrt_ep_devices(path, nil, 0, &needed))
                    text = [CChar](repeating: 0, count: needed)
                    let status = sdrt_ep_devices(path, &text, text.count, &needed)
                    if status == Pipeline.Status.ok.rawValue { return }
                    if needed <= text.count { try SdrtError.check(status) }
                }
            }
            let json = Data(text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) })
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            do {
                return try decoder.decode([ExecutionProviderDevice].self, from: json)
            } catch {
                throw SdrtError.internal("sdrt_ep_devices: unreadable list (\(error))")
            }
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

        /// True when the loaded library speaks the ABI of the header this binding was built
        /// with.
        public static var isCompatible: Bool { sdrt_abi_version() == UInt32(SDRT_ABI_VERSION) }
    }
}

/// The C log callback of both handlers: `userData` is a `LogBox`.
let logTrampoline: sdrt_log_callback = { userData, level, message in
    guard let userData, let message else { return }
    let box = Unmanaged<LogBox>.fromOpaque(userData).takeUnretainedValue()
    box.deliver(LogLevel(rawValue: level) ?? .debug, String(cString: message))
}

/// The runtime's log handler, retained for C while it may be called: from the
/// `sdrt_runtime_init` that attaches it until a later one replaces it or
/// `sdrt_runtime_shutdown` detaches it. Calls are serialized, so the retained box is always
/// the one C holds.
final class RuntimeLog: @unchecked Sendable {
    static let shared = RuntimeLog()

    private let lock = NSLock()
    private var attached: Unmanaged<LogBox>?

    /// Runs `initialize` with the new handler's box (nil for none) and keeps, afterwards, the
    /// box C holds: the new one when sdrt attached it, else the old one.
    func replace(with handler: (@Sendable (LogLevel, String) -> Void)?,
                 _ initialize: (Unmanaged<LogBox>?) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        let box = handler.map { Unmanaged.passRetained(LogBox($0)) }
        let errorsBefore = box?.takeUnretainedValue().errorCount ?? 0
        do {
            try initialize(box)
        } catch let error as SdrtError where error.status != .invalidArgument
            && error.status != .alreadyInitialized {
            // A load failure: sdrt attached the logging before searching (include/sdrt.h).
            // sdrt returns the failure without logging it: the handler gets it from here,
            // unless sdrt sent an error of its own during the call.
            if let handlerBox = box?.takeUnretainedValue(), handlerBox.errorCount == errorsBefore {
                handlerBox.deliver(.error, error.description)
            }
            swap(to: box)
            throw error
        } catch {
            // Refused before the logging changed (a bad argument, here or in C, or another
            // library than the loaded one).
            box?.release()
            throw error
        }
        swap(to: box)
    }

    /// Runs `detach` (`sdrt_runtime_shutdown`), then releases the box C no longer holds.
    func detach(_ detach: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        detach()
        swap(to: nil)
    }

    private func swap(to box: Unmanaged<LogBox>?) {
        attached?.release()
        attached = box
    }
}

/// One device of an execution provider (`sdrt_ep_devices`).
public struct ExecutionProviderDevice: Sendable, Hashable, Decodable {
    /// The provider's name, e.g. "OpenVINOExecutionProvider" (`Pipeline.Options.epName`).
    public let epName: String
    public let epVendor: String
    /// "cpu", "gpu" or "npu".
    public let device: String
    /// Who makes the hardware, e.g. "Intel".
    public let vendor: String
    public let vendorId: UInt32
    public let deviceId: UInt32
    /// The provider's metadata about the device, e.g. OpenVINO's "ov_device".
    public let epMetadata: [String: String]
    public let deviceMetadata: [String: String]
}

/// Calls `body` with `s` as a C string, or NULL for `nil`.
func withOptionalCString<R>(_ s: String?,
                            _ body: (UnsafePointer<CChar>?) throws -> R) rethrows -> R {
    guard let s else { return try body(nil) }
    return try s.withCString { try body($0) }
}

/// Calls `body` with a C array of `strings` (NULL when there are none), valid for the call.
func withCStrings<R>(_ strings: [String],
                     _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
    if strings.isEmpty { return try body(nil) }
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
    return try pointers.withUnsafeBufferPointer { try body($0.baseAddress) }
}

/// Calls `body` with `url`'s file-system path. sdrt takes paths, and `URL` gives one only for
/// file URLs: for any other (`URL(string: "/opt/lib.dylib")` has no scheme)
/// `withUnsafeFileSystemRepresentation` would pass NULL, which C reads as "the default".
func withFilePath<R>(_ url: URL, field: String,
                     _ body: (UnsafePointer<CChar>) throws -> R) throws -> R {
    guard url.isFileURL else {
        throw SdrtError.invalidArgument(
            "\(field): \(url) is not a file URL (use URL(fileURLWithPath:))")
    }
    return try url.withUnsafeFileSystemRepresentation { path in
        guard let path else {
            throw SdrtError.invalidArgument("\(field): \(url) has no file-system path")
        }
        return try body(path)
    }
}

/// `withFilePath`, or NULL for `nil`.
func withOptionalPath<R>(_ url: URL?, field: String,
                         _ body: (UnsafePointer<CChar>?) throws -> R) throws -> R {
    guard let url else { return try body(nil) }
    return try withFilePath(url, field: field) { try body($0) }
}
