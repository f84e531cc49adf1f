// Stopping a generation: from the progress handler (returning false, or `cancel()`), from
// the calling Task, and a cancelled Task whose call still waits behind another.
import Foundation
import XCTest

@testable import Sdrt

final class CancellationTests: XCTestCase, @unchecked Sendable {
    func testProgressHandlerReturningFalseCancels() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "stop")
        config.stepCount = 5
        let steps = Recorder<Int>()
        await assertSdrtError(.cancelled) {
            try await pipeline.generate(config) { progress in
                steps.append(progress.step)
                return progress.step < 2
            }
        }
        XCTAssertEqual(steps.values, [1, 2])
    }

    func testPipelineCancelFromTheHandler() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "cancel()")
        config.stepCount = 50
        config.schedulerType = .euler
        let steps = Recorder<Int>()
        await assertSdrtError(.cancelled) {
            try await pipeline.generate(config) { progress in
                steps.append(progress.step)
                if progress.step == 3 { pipeline.cancel() }
                return true
            }
        }
        XCTAssertEqual(steps.values.last, 3, "stopped at the step that cancelled")
        // The cancel was for that call only: the pipeline generates again.
        config.stepCount = 1
        let again = try await pipeline.generate(config)
        XCTAssertEqual(again.count, 1)
    }

    func testTaskCancellationThrowsCancellationError() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "long")
        config.stepCount = 1000
        config.schedulerType = .euler
        let started = Signal()
        let steps = Recorder<Int>()
        let long = config
        let task = Task {
            try await pipeline.generate(long) { progress in
                steps.append(progress.step)
                started.fire()
                return true
            }
        }
        let running = try await started.waitAsync(seconds: 60)
        XCTAssertTrue(running)
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
        XCTAssertLessThan(steps.values.count, 1000)
        // The pipeline stays usable.
        config.stepCount = 1
        let again = try await pipeline.generate(config)
        XCTAssertEqual(again.count, 1)
    }

    func testAlreadyCancelledTaskGeneratesNothing() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "never")
        config.stepCount = 2
        let steps = Recorder<Int>()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pipeline.generate(config) { progress in
                steps.append(progress.step)
                return true
            }
        }
        do {
            _ = try await task.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
        XCTAssertTrue(steps.values.isEmpty)
    }

    func testCancelledQueuedCallResumesAtOnceAndLeavesTheRunningOne() async throws {
        // Review fix: a cancelled Task whose call waited on the serial queue used to wait for
        // the running call to finish. Here the running call is held inside its progress
        // handler until the queued one has been cancelled and has thrown.
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        var config = Pipeline.Configuration(prompt: "first")
        config.stepCount = 3
        let firstStarted = Signal()
        let release = Signal()
        let firstDone = Signal()
        let first = Task { () async throws -> [GeneratedImage] in
            let images = try await pipeline.generate(config) { progress in
                if progress.step == 1 {
                    firstStarted.fire()
                    _ = release.wait(seconds: 20)
                }
                return true
            }
            firstDone.fire()
            return images
        }
        let running = try await firstStarted.waitAsync(seconds: 60)
        XCTAssertTrue(running)

        let secondSteps = Recorder<Int>()
        let second = Task {
            try await pipeline.generate(config) { progress in
                secondSteps.append(progress.step)
                return true
            }
        }
        try await Task.sleep(nanoseconds: 200_000_000) // on the queue by now
        let cancelled = Date()
        second.cancel()
        do {
            _ = try await second.value
            XCTFail("expected CancellationError")
        } catch is CancellationError {
        }
        XCTAssertLessThan(Date().timeIntervalSince(cancelled), 5)
        XCTAssertFalse(firstDone.isSet, "the cancelled call waited for the running one")
        release.fire()

        // The running call was not cancelled with it, and the skipped call never ran.
        let images = try await first.value
        XCTAssertEqual(images.count, 1)
        var after = config
        after.stepCount = 1
        _ = try await pipeline.generate(after)
        XCTAssertTrue(secondSteps.values.isEmpty)
    }

    func testCallsOnOnePipelineRunInOrder() async throws {
        let pipeline = try Pipeline(resourcesAt: Fixtures.sd2)
        let order = Recorder<Int>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<3 {
                var config = Pipeline.Configuration(prompt: "call \(i)")
                config.stepCount = 2
                group.addTask {
                    _ = try await pipeline.generate(config) { _ in
                        order.append(i)
                        return true
                    }
                }
            }
            try await group.waitForAll()
        }
        // One call at a time: each call's steps are together.
        let runs = order.values.reduce(into: [Int]()) { runs, i in
            if runs.last != i { runs.append(i) }
        }
        XCTAssertEqual(runs.count, 3)
        XCTAssertEqual(Set(runs), [0, 1, 2])
    }
}
