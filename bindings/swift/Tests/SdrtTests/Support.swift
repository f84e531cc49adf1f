// What the tests share: the fixtures of this checkout, images to start from, and thread-safe
// recorders for the handlers (they run on sdrt's and ONNX Runtime's threads).
//
// The test classes are `@unchecked Sendable`: in the Swift 6 language mode, the test runner
// that SwiftPM generates on Linux captures them in `@Sendable` closures (XCTest runs one test
// at a time, and the classes hold no state).
import Foundation
import XCTest

@testable import Sdrt

enum Fixtures {
    /// The repository root (this file is bindings/swift/Tests/SdrtTests/Support.swift).
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url
    }()

    static func model(_ name: String) -> URL {
        root.appendingPathComponent("tests/fixtures/\(name)")
    }

    /// Text-to-image, image-to-image and 4-channel inpainting; 64 x 64, PNDM.
    static let sd2 = model("tiny-sd2")
    /// A 9-channel inpainting UNet.
    static let inpaint = model("tiny-sd2-inpaint")
    /// tiny-sd2 with a TAESD preview decoder in vae_preview/.
    static let preview = model("tiny-sd2-preview")
    /// tiny-sd2 in the SD 1.x layout with a calibrated safety checker (tests/goldens/safety.json).
    static let safety = model("tiny-sd1-safety")

    /// A 64 x 64 RGB8 gradient, rows `bytesPerRow` apart (0 = packed) with 0x5A in the padding.
    static func startingImage(bytesPerRow: Int = 0, format: PixelFormat = .rgb8) -> ImageInput {
        let channels = format == .rgba8 ? 4 : 3
        let stride = bytesPerRow == 0 ? 64 * channels : bytesPerRow
        var pixels = [UInt8](repeating: 0x5A, count: stride * 64)
        for y in 0..<64 {
            for x in 0..<64 {
                let i = y * stride + x * channels
                pixels[i] = UInt8(x * 4)
                pixels[i + 1] = UInt8(y * 4)
                pixels[i + 2] = UInt8((x + y) * 2)
                if channels == 4 { pixels[i + 3] = 255 }
            }
        }
        return ImageInput(pixels: pixels, width: 64, height: 64, bytesPerRow: bytesPerRow,
                          format: format)
    }

    /// A 64 x 64 GRAY8 mask: the left half 255 (repainted), the right half 0 (kept).
    static func mask(repaintLeft: Bool = true) -> ImageInput {
        var pixels = [UInt8](repeating: 0, count: 64 * 64)
        for y in 0..<64 {
            for x in 0..<32 { pixels[y * 64 + (repaintLeft ? x : x + 32)] = 255 }
        }
        return ImageInput(pixels: pixels, width: 64, height: 64, format: .gray8)
    }
}

/// A thread-safe list.
final class Recorder<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [T] = []

    func append(_ value: T) {
        lock.lock()
        list.append(value)
        lock.unlock()
    }

    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}

/// A flag that one thread sets and others wait for.
final class Signal: @unchecked Sendable {
    private let condition = NSCondition()
    private var set = false

    func fire() {
        condition.lock()
        set = true
        condition.broadcast()
        condition.unlock()
    }

    var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return set
    }

    /// Blocks the calling thread (never a cooperative one: use `waitAsync`); false on timeout.
    func wait(seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        defer { condition.unlock() }
        while !set {
            if !condition.wait(until: deadline) { return set }
        }
        return true
    }

    /// Polls from async code without blocking a cooperative thread; false on timeout.
    func waitAsync(seconds: Double) async throws -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        while !isSet {
            if Date() > deadline { return false }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        return true
    }
}

/// Asserts that `body` throws an `SdrtError` of `status` whose message contains `text`.
func assertSdrtError<T>(_ status: Pipeline.Status, containing text: String = "",
                        file: StaticString = #filePath, line: UInt = #line,
                        _ body: () async throws -> T) async {
    do {
        _ = try await body()
        XCTFail("expected SdrtError with status \(status)", file: file, line: line)
    } catch let error as SdrtError {
        XCTAssertEqual(error.status, status, "\(error)", file: file, line: line)
        XCTAssertTrue(text.isEmpty || error.message.contains(text), "\(error) lacks \(text)",
                      file: file, line: line)
    } catch {
        XCTFail("expected SdrtError, got \(error)", file: file, line: line)
    }
}
