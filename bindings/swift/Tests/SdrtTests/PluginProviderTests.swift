// The plugin execution providers (issue 15) through the Swift layer: the device list, and
// OpenVINO without its plugin library, a fallback to the CPU provider or, strict, an error
// naming the library. (The OpenVINO runs themselves are tests/openvino*.rs.)
import Foundation
import XCTest

@testable import Sdrt

final class PluginProviderTests: XCTestCase, @unchecked Sendable {
    let missing = URL(fileURLWithPath: "/nonexistent/libonnxruntime_providers_openvino_plugin.so")

    func testDevicesListTheCPUProvider() throws {
        let devices = try Pipeline.Runtime.executionProviderDevices()
        let cpu = devices.first { $0.epName == "CPUExecutionProvider" }
        XCTAssertEqual(cpu?.device, "cpu", "\(devices)")
        XCTAssertFalse(cpu?.vendor.isEmpty ?? true, "\(devices)")
    }

    func testDevicesWithALibraryThatIsNotAPluginThrow() async throws {
        await assertSdrtError(.providerUnavailable, containing: "/nonexistent/") {
            try Pipeline.Runtime.executionProviderDevices(pluginLibrary: self.missing)
        }
    }

    func testOpenVINOWithoutItsPluginRunsOnCPUOrFailsStrictly() async throws {
        var options = Pipeline.Options()
        options.provider = .openVINO
        options.epDevice = .cpu
        options.epPrecision = .f32
        options.epLibrary = missing
        options.epOptions = ["num_of_threads": "2"]
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2, options: options,
                                    logLevel: .off, logHandler: { _, _ in })
        XCTAssertEqual(try pipeline.info().provider, .cpu)
        options.strictProvider = true
        await assertSdrtError(.providerUnavailable, containing: "/nonexistent/") {
            try Pipeline(resourcesAt: Fixtures.sd2, options: options)
        }
        options.strictProvider = false
        options.epOptions = ["": "x"]
        await assertSdrtError(.invalidArgument, containing: "ep_option_keys") {
            try Pipeline(resourcesAt: Fixtures.sd2, options: options)
        }
    }
}
