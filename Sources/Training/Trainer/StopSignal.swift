import Foundation
import Synchronization

/// SIGINT / SIGTERM as a request to stop after the current step (the trainer then writes a
/// checkpoint and exits 130 / 143), instead of dying mid-step.
public enum StopSignal {
    /// Written by the signal handlers' queue, read by the training loop.
    private static let received = Atomic<Int32>(0)
    /// Kept alive for the life of the process (installed once, from the main thread).
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// The signal received so far (0 for none).
    public static var pending: Int32 { received.load(ordering: .acquiring) }

    /// Routes SIGINT and SIGTERM to `pending`. A second signal of the same kind kills at once.
    public static func install() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if received.exchange(signalNumber, ordering: .acquiringAndReleasing) == signalNumber {
                    signal(signalNumber, SIG_DFL)
                    raise(signalNumber)
                }
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// Training stopped on a signal after saving a checkpoint; the process should exit 128 + signal.
public struct TrainingInterrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public let checkpoint: URL?
    public var description: String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        return
            "stopped by \(name); checkpoint saved at \(checkpoint?.path ?? "(none)"); continue with qklab train --resume"
    }
    public var exitCode: Int32 { 128 + signal }
}
