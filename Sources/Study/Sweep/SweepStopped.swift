import Foundation

/// A sweep stopped on SIGINT or SIGTERM after its running trainers saved a checkpoint and ended;
/// the process should exit 128 + signal. Rerunning the sweep resumes it.
public struct SweepStopped: Error, CustomStringConvertible {
    public let signal: Int32
    public var description: String {
        let name = signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
        return "sweep stopped by \(name); its running points saved a checkpoint; run the same command again to resume"
    }
    public var exitCode: Int32 { 128 + signal }
}
