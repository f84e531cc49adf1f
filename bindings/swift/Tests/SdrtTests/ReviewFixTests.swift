// The fixes of the review that Linux can show and that no other test file covers: the step
// information read within its struct_size, and no top-level name clashing with Apple's
// StableDiffusion or Combine.
import CSdrt
import Foundation
import SdrtClashProbe
import XCTest

@testable import Sdrt

final class ReviewFixTests: XCTestCase, @unchecked Sendable {
    /// A step info as a library filling `filled` bytes hands it over: the rest of the buffer
    /// (larger than this header's struct) is garbage.
    private func withStepInfo<R>(filled: Int, _ body: (UnsafePointer<sdrt_step_info>) -> R) -> R {
        let size = MemoryLayout<sdrt_step_info>.size + 64
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: size, alignment: MemoryLayout<sdrt_step_info>.alignment)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0xA5, count: size)
        let previewPixels = [UInt8](repeating: 7, count: 2 * 3 * 3)
        return previewPixels.withUnsafeBufferPointer { pixels in
            var info = sdrt_step_info()
            info.struct_size = UInt32(filled)
            info.step = 2
            info.total_steps = 5
            info.preview_kind = PreviewKind.latentRGB.rawValue
            info.timestep = 500
            info.elapsed_seconds = 0.25
            info.preview = pixels.baseAddress
            info.preview_width = 3
            info.preview_height = 1
            info.preview_count = 2
            withUnsafeBytes(of: &info) { bytes in
                raw.copyMemory(from: bytes.baseAddress!, byteCount: min(filled, bytes.count))
            }
            raw.storeBytes(of: UInt32(filled), as: UInt32.self)
            return body(raw.assumingMemoryBound(to: sdrt_step_info.self))
        }
    }

    func testStepInfoIsReadWithinItsStructSize() {
        // A library as old as this header, or newer (a larger struct): every field.
        for filled in [MemoryLayout<sdrt_step_info>.size, MemoryLayout<sdrt_step_info>.size + 64] {
            withStepInfo(filled: filled) { pointer in
                let info = readStepInfo(pointer)
                XCTAssertEqual(info.step, 2)
                XCTAssertEqual(info.total_steps, 5)
                let shown = previews(of: info)
                XCTAssertEqual(shown.count, 2)
                XCTAssertEqual(shown.first?.rgb, [7, 7, 7, 7, 7, 7, 7, 7, 7])
            }
        }
        // An older library that filled the struct up to the preview pointer only: what lies
        // past struct_size (0xA5 here) is not read, so there are no previews.
        let beforePreview = MemoryLayout<sdrt_step_info>.offset(of: \sdrt_step_info.preview)!
        withStepInfo(filled: beforePreview) { pointer in
            let info = readStepInfo(pointer)
            XCTAssertEqual(info.step, 2)
            XCTAssertEqual(info.elapsed_seconds, 0.25)
            XCTAssertNil(info.preview)
            XCTAssertEqual(info.preview_count, 0)
            XCTAssertTrue(previews(of: info).isEmpty)
        }
        // Filled up to the pointer but not the sizes: still no previews.
        let beforeSizes = MemoryLayout<sdrt_step_info>.offset(of: \sdrt_step_info.preview_width)!
        withStepInfo(filled: beforeSizes) { pointer in
            XCTAssertTrue(previews(of: readStepInfo(pointer)).isEmpty)
        }
    }

    func testNoTopLevelNameClashesWithAppleOrCombine() {
        // SdrtClashProbe declares top-level Configuration, Scheduler, Generator, Status and
        // Runtime, as Apple's StableDiffusion and Combine do: unqualified, they are its own,
        // which compiles only while Sdrt declares none of them at top level.
        let configuration = Configuration()
        let generator = Generator()
        let status = Status.probe
        let runtime = Runtime.probe
        struct Probe: Scheduler {}
        let scheduler: any Scheduler = Probe()
        XCTAssertEqual(configuration, SdrtClashProbe.Configuration())
        XCTAssertEqual(generator, SdrtClashProbe.Generator())
        XCTAssertEqual(status, .probe)
        XCTAssertEqual(runtime, .probe)
        XCTAssertTrue(scheduler is Probe)
        // Sdrt's are nested in Pipeline.
        var config = Pipeline.Configuration(prompt: "nested")
        config.schedulerType = Pipeline.Scheduler.euler
        config.rngType = Pipeline.Generator.torch
        XCTAssertEqual(Pipeline.Status.ok.rawValue, 0)
        XCTAssertFalse(Pipeline.Runtime.version.isEmpty)
    }
}
