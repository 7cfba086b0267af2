import Formats
import Foundation

/// Runs every point of a sweep as its own `qklab train` process (up to `jobs` at a time), each
/// in a normal run folder under `output/points/`. Resumable: a point whose final checkpoint
/// exists is skipped, one with an earlier checkpoint is resumed, one with none is started anew.
public struct SweepRunner {
    public let plan: SweepPlan
    /// The `qklab` executable to spawn.
    public let executable: URL
    public let jobs: Int

    public init(plan: SweepPlan, executable: URL, jobs: Int) {
        (self.plan, self.executable, self.jobs) = (plan, executable, max(1, jobs))
    }

    public func folder(of point: SweepPlan.Point) -> RunFolder {
        RunFolder(plan.output.appendingPathComponent("points").appendingPathComponent(point.name))
    }

    /// What to do with a point given its folder.
    public enum Action: Equatable { case skip, resume, start }

    public func action(for point: SweepPlan.Point) throws -> Action {
        let folder = folder(of: point)
        if FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("finished").path) { return .skip }
        return folder.latestCheckpoint() == nil ? .start : .resume
    }

    /// Trains every unfinished point; `report` hears one line per point started or finished.
    public func run(report: @escaping (String) -> Void) throws {
        try FileManager.default.createDirectory(at: plan.output.appendingPathComponent("points"), withIntermediateDirectories: true)
        let threadsEach = max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        var pending = try plan.points.filter { try action(for: $0) != .skip }
        report("\(plan.points.count) points, \(plan.points.count - pending.count) already finished, \(jobs) at a time")
        var running: [(point: SweepPlan.Point, process: Process)] = []
        while !pending.isEmpty || !running.isEmpty {
            while running.count < jobs, !pending.isEmpty {
                let point = pending.removeFirst()
                running.append((point, try launch(point, threads: threadsEach)))
                report("started \(point.name)")
            }
            Thread.sleep(forTimeInterval: 0.2)
            for (index, job) in running.enumerated().reversed() where !job.process.isRunning {
                running.remove(at: index)
                try finish(job.point, status: job.process.terminationStatus, report: report)
            }
        }
    }

    func launch(_ point: SweepPlan.Point, threads: Int) throws -> Process {
        let folder = folder(of: point)
        var arguments = ["train"]
        switch try action(for: point) {
        case .resume:
            arguments += ["--resume", folder.url.path]
        case .start, .skip:
            try? FileManager.default.removeItem(at: folder.url)   // the sweep's own folder, with no checkpoint
            arguments += ["--config", plan.base.path, "--run-dir", folder.url.path]
            arguments += (plan.fixedOverrides + point.overrides).flatMap { ["--set", $0] }
        }
        arguments += ["--set", "train.threads=\(threads)"]
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        let log = folder.url.appendingPathComponent("train.log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// Marks a point finished — trained to the end, or stopped for good by a non-finite step
    /// (a diverged point, which resuming would only repeat).
    func finish(_ point: SweepPlan.Point, status: Int32, report: (String) -> Void) throws {
        let folder = folder(of: point)
        let diverged = FileManager.default.fileExists(atPath: folder.nonFiniteReport.path)
        guard status == 0 || diverged else {
            report("\(point.name): exited with status \(status); see \(folder.url.path)/train.log (rerun the sweep to resume it)")
            return
        }
        try Data((diverged && status != 0 ? "diverged\n" : "completed\n").utf8)
            .write(to: folder.url.appendingPathComponent("finished"))
        report("finished \(point.name)\(diverged && status != 0 ? " (diverged)" : "")")
    }
}
