// Log handlers: a pipeline's own, and the runtime's (review fix: without it, a pipeline with
// no handler lost its messages, ONNX Runtime load failures included).
import Foundation
import XCTest

@testable import Sdrt

final class LoggingTests: XCTestCase, @unchecked Sendable {
    func testLogHandlerReceivesThePipelinesMessages() throws {
        let lines = Recorder<(LogLevel, String)>()
        _ = try Pipeline(resourcesAt: Fixtures.sd2, logLevel: .info) { level, message in
            lines.append((level, message))
        }
        XCTAssertFalse(lines.values.isEmpty)
        XCTAssertTrue(lines.values.allSatisfy { $0.0 <= .info && $0.0 != .off })
        // Up to the level asked for: at .error, the loading's info lines are not sent.
        let errors = Recorder<LogLevel>()
        _ = try Pipeline(resourcesAt: Fixtures.sd2, logLevel: .error) { level, _ in
            errors.append(level)
        }
        XCTAssertTrue(errors.values.allSatisfy { $0 <= .error })
    }

    func testRuntimeLogHandlerReceivesMessagesOfPipelinesWithoutOne() throws {
        let runtimeLines = Recorder<String>()
        try Pipeline.Runtime.initialize(logLevel: .info) { _, message in
            runtimeLines.append(message)
        }
        defer { Pipeline.Runtime.shutdown() }
        _ = try Pipeline(resourcesAt: Fixtures.sd2)
        let fromPipeline = runtimeLines.values.count
        XCTAssertGreaterThan(fromPipeline, 0, "a pipeline without a handler lost its messages")

        // A pipeline with its own handler keeps its messages to it.
        let ownLines = Recorder<String>()
        _ = try Pipeline(resourcesAt: Fixtures.sd2, logLevel: .info) { _, message in
            ownLines.append(message)
        }
        XCTAssertGreaterThan(ownLines.values.count, 0)

        // Another library than the loaded one: refused, the handler stays attached.
        let other = URL(fileURLWithPath: "/nonexistent/libonnxruntime.so")
        assertSdrtErrorSync(.alreadyInitialized) {
            try Pipeline.Runtime.initialize(onnxRuntimeLibrary: other, logLevel: .info) { _, _ in }
        }
        let before = runtimeLines.values.count
        _ = try Pipeline(resourcesAt: Fixtures.sd2)
        XCTAssertGreaterThan(runtimeLines.values.count, before)

        // Detached: nothing more arrives.
        Pipeline.Runtime.shutdown()
        let detached = runtimeLines.values.count
        _ = try Pipeline(resourcesAt: Fixtures.sd2)
        XCTAssertEqual(runtimeLines.values.count, detached)
    }

    /// Runs `testLoadFailureReachesTheRuntimeLogHandler` in a process of its own, where ONNX
    /// Runtime is not loaded yet (Linux: the test binary runs one test when named).
    func testLoadFailureReachesTheRuntimeLogHandlerInAFreshProcess() throws {
        #if os(Linux)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["SdrtTests.LoggingTests/testLoadFailureReachesTheRuntimeLogHandler"]
        var environment = ProcessInfo.processInfo.environment
        environment["SDRT_SWIFT_FRESH_PROCESS"] = "1"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let text = String(decoding: data, as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("Executed 1 test"), text)
        XCTAssertFalse(text.contains("skipped"), text)
        #else
        throw XCTSkip("the fresh process is started on Linux only")
        #endif
    }

    func testLoadFailureReachesTheRuntimeLogHandler() throws {
        guard ProcessInfo.processInfo.environment["SDRT_SWIFT_FRESH_PROCESS"] == "1" else {
            throw XCTSkip("runs in the process testLoadFailure...InAFreshProcess starts")
        }
        XCTAssertNil(Pipeline.Runtime.onnxRuntimeVersion, "ONNX Runtime is loaded already")
        let lines = Recorder<(LogLevel, String)>()
        let missing = URL(fileURLWithPath: "/nonexistent/sdrt-test/libonnxruntime.so")
        XCTAssertThrowsError(try Pipeline.Runtime.initialize(
            onnxRuntimeLibrary: missing, logLevel: .info) { lines.append(($0, $1)) }) { error in
            XCTAssertEqual((error as? SdrtError)?.status, .runtimeUnavailable, "\(error)")
        }
        XCTAssertTrue(lines.values.contains { $0.0 == .error && $0.1.contains(missing.path) },
                      "\(lines.values)")

        // Then the real library, with another handler that also gets the pipelines' messages.
        guard let ort = ProcessInfo.processInfo.environment["SDRT_ORT_LIBRARY"] else {
            return XCTFail("SDRT_ORT_LIBRARY is not set")
        }
        let after = Recorder<(LogLevel, String)>()
        try Pipeline.Runtime.initialize(onnxRuntimeLibrary: URL(fileURLWithPath: ort),
                                        logLevel: .info) { after.append(($0, $1)) }
        XCTAssertNotNil(Pipeline.Runtime.onnxRuntimeVersion)
        // sdrt's message about the load, sent once per process.
        XCTAssertTrue(
            after.values.contains { $0.0 == .info && $0.1.contains("loaded ONNX Runtime") },
            "\(after.values)")
        let failed = lines.values.count
        let loaded = after.values.count
        _ = try Pipeline(resourcesAt: Fixtures.sd2)
        XCTAssertGreaterThan(after.values.count, loaded, "the pipeline's messages")
        XCTAssertEqual(lines.values.count, failed, "the replaced handler was called")
        Pipeline.Runtime.shutdown()
    }
}

/// `assertSdrtError` for a synchronous body in synchronous tests.
func assertSdrtErrorSync<T>(_ status: Pipeline.Status, file: StaticString = #filePath,
                            line: UInt = #line, _ body: () throws -> T) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        XCTAssertEqual((error as? SdrtError)?.status, status, "\(error)", file: file, line: line)
    }
}
