import CSdrt

/// A failed sdrt call: one case per `sdrt_status`, each with `sdrt_last_error_message()`,
/// read on the thread that made the call (the message is thread-local in C).
///
/// Cancellation: a generation stopped because its Swift `Task` was cancelled throws
/// `CancellationError`; one stopped by a progress handler returning `false` throws
/// `.cancelled`.
public enum SdrtError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidArgument(String)
    case runtimeUnavailable(String)
    case alreadyInitialized(String)
    case modelNotFound(String)
    case modelInvalid(String)
    case providerUnavailable(String)
    case inference(String)
    case cancelled(String)
    case unsupported(String)
    case io(String)
    case `internal`(String)
    /// A status this binding does not know (a newer library).
    case unknown(status: UInt32, message: String)

    /// The error for `status` with the calling thread's last error message.
    init(status: UInt32) {
        let message = sdrt_last_error_message().map { String(cString: $0) } ?? ""
        switch Pipeline.Status(rawValue: status) {
        case .invalidArgument?: self = .invalidArgument(message)
        case .runtimeUnavailable?: self = .runtimeUnavailable(message)
        case .alreadyInitialized?: self = .alreadyInitialized(message)
        case .modelNotFound?: self = .modelNotFound(message)
        case .modelInvalid?: self = .modelInvalid(message)
        case .providerUnavailable?: self = .providerUnavailable(message)
        case .inference?: self = .inference(message)
        case .cancelled?: self = .cancelled(message)
        case .unsupported?: self = .unsupported(message)
        case .io?: self = .io(message)
        case .internal?: self = .internal(message)
        case .ok?, nil: self = .unknown(status: status, message: message)
        }
    }

    /// Throws the error for a failed status; returns on `SDRT_OK`. Call it right after the C
    /// call, on the same thread.
    static func check(_ status: UInt32) throws {
        if status != Pipeline.Status.ok.rawValue {
            throw SdrtError(status: status)
        }
    }

    /// `check` for when the importer gives `sdrt_status` as the C enum (C++ interop mode, where
    /// the header declares `enum sdrt_status : uint32_t`) rather than as `uint32_t`.
    static func check<S: RawRepresentable>(_ status: S) throws where S.RawValue: BinaryInteger {
        try check(UInt32(truncatingIfNeeded: status.rawValue))
    }

    /// The `Pipeline.Status` of this error (`nil` for `.unknown`).
    public var status: Pipeline.Status? {
        switch self {
        case .invalidArgument: return .invalidArgument
        case .runtimeUnavailable: return .runtimeUnavailable
        case .alreadyInitialized: return .alreadyInitialized
        case .modelNotFound: return .modelNotFound
        case .modelInvalid: return .modelInvalid
        case .providerUnavailable: return .providerUnavailable
        case .inference: return .inference
        case .cancelled: return .cancelled
        case .unsupported: return .unsupported
        case .io: return .io
        case .internal: return .internal
        case .unknown: return nil
        }
    }

    /// sdrt's message: what failed and why, naming the field or file.
    public var message: String {
        switch self {
        case .invalidArgument(let m), .runtimeUnavailable(let m), .alreadyInitialized(let m),
            .modelNotFound(let m), .modelInvalid(let m), .providerUnavailable(let m),
            .inference(let m), .cancelled(let m), .unsupported(let m), .io(let m),
            .internal(let m):
            return m
        case .unknown(_, let m):
            return m
        }
    }

    /// `sdrt_status_str` and the message, e.g. "SDRT_ERROR_MODEL_NOT_FOUND: ...".
    public var description: String {
        let number: UInt32
        if case .unknown(let s, _) = self {
            number = s
        } else {
            number = status?.rawValue ?? 0
        }
        let name = sdrt_status_str(number).map { String(cString: $0) } ?? "status \(number)"
        return message.isEmpty ? name : "\(name): \(message)"
    }
}

/// `value` as the uint32_t field `name`, or `SdrtError.invalidArgument`.
func uint32(_ value: Int, _ name: String) throws -> UInt32 {
    guard let v = UInt32(exactly: value) else {
        throw SdrtError.invalidArgument("\(name) = \(value) does not fit a uint32_t")
    }
    return v
}
