import Formats
import Foundation

/// Runs every point of a sweep as its own `qklab train` process (up to `jobs` at a time), each
/// in a normal run folder under `output/points/`. Resumable: a finished or diverged point is
/// kept, one stopped after a checkpoint is resumed, one without a checkpoint is started anew.
/// A point whose recorded config no longer matches the sweep file in a key that can change its
/// numbers is never reused: the sweep refuses to run until its folder is removed (or `out` is
/// changed). A bookkeeping key the sweep file changed since (`keep_checkpoints`, …) is passed to
/// a resumed point's trainer with `--set`, and `point.toml` records it once the trainer used it.
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

    public func record(of point: SweepPlan.Point) -> SweepPointRecord { SweepPointRecord(folder(of: point)) }

    public func status(of point: SweepPlan.Point) -> SweepPointStatus {
        record(of: point).status(planned: point.config, defaults: point.defaults)
    }

    /// What to do with a point given its folder.
    public enum Action: Equatable { case skip, resume, start }

    /// Throws for a point whose folder holds steps trained with another config.
    public func action(for point: SweepPlan.Point) throws -> Action {
        switch status(of: point) {
        case .finished, .diverged, .running: return .skip
        case .configChanged: throw changedConfigError([point])
        case .notStarted, .failedToStart, .failed, .stopped:
            return folder(of: point).latestCheckpoint() == nil ? .start : .resume
        }
    }

    /// The refusal for points whose recorded config differs from the sweep file's.
    func changedConfigError(_ points: [SweepPlan.Point]) -> ConfigError {
        let lines = points.map { point -> String in
            guard case .configChanged(let differences) = status(of: point) else { return point.name }
            return "\(point.name) (\(differences.joined(separator: "; ")))"
        }
        return ConfigError(
            "\(points.count) point\(points.count == 1 ? "" : "s") of \(plan.output.path) were trained with another config than the sweep file now gives: "
                + lines.joined(separator: ", ")
                + ". Their results would not be this sweep's: restore the sweep file, or remove those point folders to train them again, or set another out"
        )
    }

    /// Trains every point not yet finished; `report` hears one line per point started or
    /// ended. Refuses, before training anything, when a point's folder holds steps trained with
    /// another config.
    ///
    /// `stopRequested` returns the signal the sweep received (0 for none; `qklab sweep` passes
    /// Training's `StopSignal.pending`): then no point is started, each running trainer gets
    /// SIGTERM (it saves a checkpoint and exits), and once they have all ended the sweep throws
    /// `SweepStopped`, so stopping a sweep never leaves its trainers running on their own.
    public func run(stopRequested: () -> Int32 = { 0 }, report: @escaping (String) -> Void) throws {
        let changed = plan.points.filter {
            if case .configChanged = status(of: $0) { return true } else { return false }
        }
        if !changed.isEmpty { throw changedConfigError(changed) }
        let output = SweepOutput(plan.output)
        try output.checkOwnership()
        try FileIO.createDirectory(output.points)
        let threadsEach = max(1, ProcessInfo.processInfo.activeProcessorCount / jobs)
        var pending: [SweepPlan.Point] = []
        // Trainers left running by an earlier sweep that was killed (kill -9 ends the sweep but not
        // its children): left to finish, and counted against `jobs` while they run.
        var orphans: [SweepPlan.Point] = []
        var done = 0
        for point in plan.points {
            switch status(of: point) {
            case .finished, .diverged: done += 1
            case .running(let pid):
                orphans.append(point)
                report("\(point.name): being trained by process \(pid); left to it, and counted against --jobs")
            default: pending.append(point)
            }
        }
        report("\(counted(plan.points.count, "point")), \(done) already finished, \(jobs) at a time")
        var running: [(point: SweepPlan.Point, process: Process)] = []
        var stopSignal: Int32 = 0
        while !pending.isEmpty || !running.isEmpty {
            if stopSignal == 0, case let signal = stopRequested(), signal != 0 {
                stopSignal = signal
                pending.removeAll()
                for job in running { job.process.terminate() }
                report(
                    "stopping: the \(running.count) running point\(running.count == 1 ? " was" : "s were") sent SIGTERM (each saves a checkpoint)"
                )
            }
            orphans.removeAll { folder(of: $0).liveLockOwner() == nil }  // its trainer ended
            while running.count + orphans.count < jobs, !pending.isEmpty {
                let point = pending.removeFirst()
                // Another sweep sharing `out` may have trained or taken the point since the list
                // was made: its folder is kept, never started over.
                switch (try action(for: point), status(of: point)) {
                case (.skip, .running(let pid)):
                    orphans.append(point)
                    report("\(point.name): being trained by process \(pid); left to it, and counted against --jobs")
                case (.skip, let status):
                    report("\(point.name): \(status.label) by another process meanwhile; kept")
                case (let action, _):
                    running.append((point, try launch(point, action, threads: threadsEach)))
                    report("started \(point.name)")
                }
            }
            Thread.sleep(forTimeInterval: 0.2)
            for (index, job) in running.enumerated().reversed() where !job.process.isRunning {
                running.remove(at: index)
                try finish(job.point, process: job.process, stopped: stopSignal != 0, report: report)
            }
        }
        if stopSignal != 0 { throw SweepStopped(signal: stopSignal) }
    }

    /// Starts the point's trainer for `action` (`.resume` or `.start`; a point to skip is not
    /// launched).
    func launch(_ point: SweepPlan.Point, _ action: Action, threads: Int) throws -> Process {
        precondition(action != .skip, "a point to skip is never launched")
        let folder = folder(of: point)
        let record = SweepPointRecord(folder)
        var arguments = ["train"]
        switch action {
        case .resume:
            arguments += ["--resume", folder.url.path]
            arguments += resumeOverrides(for: point).flatMap { ["--set", $0] }
        case .start, .skip:
            try? FileManager.default.removeItem(at: folder.url)  // the sweep's own folder, with no checkpoint
            arguments += ["--config", plan.base.path, "--run-dir", folder.url.path]
            arguments += (plan.fixedOverrides + point.overrides).flatMap { ["--set", $0] }
        }
        arguments += ["--set", "train.threads=\(threads)"]
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: record.failure)
        // A resumed point's record changes once its trainer has taken the new values (`finish`).
        if action != .resume {
            try record.writePointConfig(point, base: plan.base, fixedOverrides: plan.fixedOverrides)
        }
        if !FileManager.default.fileExists(atPath: record.log.path) {
            _ = FileManager.default.createFile(atPath: record.log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: record.log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// `section.key=value` for each bookkeeping key (`ConfigKeyRole`) whose value in the sweep file
    /// differs from the one the point's run last trained with (its `config.toml`): passed to the
    /// resumed trainer, which applies them from its next step. `[run]` keys are left out (the
    /// sweep names the folder), and so is `train.threads` (the sweep sets it).
    func resumeOverrides(for point: SweepPlan.Point) -> [String] {
        let record = record(of: point)
        guard let used = record.runConfig() ?? record.recordedConfig() else { return [] }
        return ConfigTable.differingPaths(among: [used, point.config])
            .filter { ConfigKeyRole.of($0) == .bookkeeping && $0 != "train.threads" }
            .compactMap { path in point.config[path].map { "\(path)=\($0)" } }
    }

    /// Records how a point's trainer ended: an end that is neither the last step nor a
    /// divergence is a failure, kept in the folder's `failed` file with the log's last line,
    /// unless the sweep `stopped` it (the point then stays "stopped", to be resumed).
    func finish(_ point: SweepPlan.Point, process: Process, stopped: Bool, report: (String) -> Void) throws {
        let record = record(of: point)
        // A resumed trainer that took the sweep file's bookkeeping values (its config.toml now
        // says them): point.toml says them too.
        if resumeOverrides(for: point).isEmpty {
            try record.writePointConfig(point, base: plan.base, fixedOverrides: plan.fixedOverrides)
        }
        let signalled = process.terminationReason == .uncaughtSignal
        let exit = (signalled ? "killed by signal " : "exit status ") + String(process.terminationStatus)
        if !stopped, !status(of: point).isComplete {
            let cleanExit = !signalled && process.terminationStatus == 0
            try record.writeFailure(
                exit: exit, note: cleanExit ? "the trainer ended before step \(point.maxSteps ?? 0)" : nil)
        }
        switch status(of: point) {
        case .finished: report("finished \(point.name)")
        case .diverged(let step): report("finished \(point.name) (diverged at step \(step))")
        case .failedToStart(let reason): report("\(point.name): failed to start: \(reason)")
        case .failed(let step, let reason):
            report(
                "\(point.name): failed at step \(step.map(String.init) ?? "?"): \(reason); rerun the sweep to resume it"
            )
        case let other: report("\(point.name): ended \(other.label) (\(exit)); see \(record.log.path)")
        }
    }
}
