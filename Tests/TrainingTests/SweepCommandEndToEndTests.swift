import Foundation
import XCTest

extension CommandLineEndToEndTests {
    /// `qklab sweep` end to end with the real executable and trainer (the Study tests use a
    /// stand-in trainer): every point trains in its folder beside the sweep's own files
    /// (`point.toml`, `train.log`), the summary is written, and a rerun finds every point finished.
    func testSweepTrainsEveryPointAndARerunReusesThem() throws {
        let sweep = try smokeSweep(
            "tiny.toml",
            """
            "train.max_steps" = 4
            "train.eval_interval" = 2
            [grid]
            "optim.lr" = [1e-3, 1e-2]
            "model.qk_norm" = ["off", "head"]
            """)
        // Nothing to summarise yet: one line, and nothing written that would keep the sweep out.
        try assertFails(
            ["sweep", sweep.path, "--summary-only"],
            ["qklab: sweep output \(scratch.path)/out has no points yet", "without --summary-only first"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out").path))
        let first = try qklab(["sweep", sweep.path, "--jobs", "2"])
        XCTAssertEqual(first.status, 0, first.output + first.error)
        for point in ["lr=0.001,qk_norm=off", "lr=0.01,qk_norm=head"] {
            let folder = scratch.appendingPathComponent("out/points/\(point)")
            for file in ["point.toml", "train.log", "config.toml", "metrics.jsonl", "checkpoints/latest"] {
                XCTAssertTrue(
                    FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(point)/\(file)"
                )
            }
        }
        let summary = try String(contentsOf: scratch.appendingPathComponent("out/summary.txt"), encoding: .utf8)
        let statuses = summary.split(separator: "\n").filter { $0.hasPrefix("lr=") }.map {
            $0.split(separator: " ", omittingEmptySubsequences: true)[1]
        }
        // 4 steps: every point is "finished" (and ends above the bigram loss, which is no failure)
        XCTAssertEqual(statuses, ["finished", "finished", "finished", "finished"], summary)
        let again = try qklab(["sweep", sweep.path])
        XCTAssertEqual(again.status, 0, again.output + again.error)
        XCTAssertTrue(again.output.contains("4 points, 4 already finished"), again.output)

        // The result page from the folder, with the command as typed and the chart beside it.
        let page = scratch.appendingPathComponent("tiny-page.md")
        let report = try qklab(["sweep", sweep.path, "--summary-only", "--report", page.path])
        XCTAssertEqual(report.status, 0, report.output + report.error)
        let text = try String(contentsOf: page, encoding: .utf8)
        XCTAssertTrue(text.contains("qklab sweep \(sweep.path) --summary-only --report \(page.path)"), text)
        XCTAssertTrue(text.contains("](tiny-page/lr_sweep.svg)"), text)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: scratch.appendingPathComponent("tiny-page/lr_sweep.svg").path))
    }

    /// The logit forecast end to end: three trained sizes, a forecast for a fourth given as a
    /// model shape, and nothing trained by the forecast itself.
    func testForecastReadsTheSweepAndTrainsNothing() throws {
        let sweep = try smokeSweep(
            "sizes.toml",
            """
            "train.max_steps" = 3
            "train.eval_interval" = 0
            [grid]
            "optim.lr" = [1e-2]
            "model.qk_norm" = ["off", "head"]
            [grid.size]
            a = {"model.d_model" = 16, "model.n_layer" = 1}
            b = {"model.d_model" = 32, "model.n_layer" = 1}
            c = {"model.d_model" = 32, "model.n_layer" = 2}
            """)
        let trained = try qklab(["sweep", sweep.path])
        XCTAssertEqual(trained.status, 0, trained.output + trained.error)
        let points = try FileManager.default.contentsOfDirectory(
            atPath: scratch.appendingPathComponent("out/points").path)
        let forecast = try qklab(
            [
                "sweep", sweep.path, "--forecast-step", "2", "--next-set", "model.d_model=64", "--next-set",
                "model.n_layer=2",
            ])
        XCTAssertEqual(forecast.status, 0, forecast.output + forecast.error)
        XCTAssertTrue(forecast.output.contains("Max attention logit at step 2, forecast for "), forecast.output)
        XCTAssertTrue(forecast.output.contains("quadratic"), forecast.output)
        // Each line at its own size: QK-Norm per head adds q and k weights of head_dim (64 / 2)
        // to each of the 2 layers, so the qk_norm=head target is 2 · 2 · 32 = 128 larger.
        let targets = try XCTUnwrap(forecast.output.firstMatch(of: #/qk_norm=off: (\d+), qk_norm=head: (\d+)/#))
        XCTAssertEqual(Int(targets.output.2)! - Int(targets.output.1)!, 128, forecast.output)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("out/points").path)
                .sorted(), points.sorted(), "the forecast trains nothing")
        try assertFails(
            ["sweep", sweep.path, "--forecast-step", "7", "--next-size", "100000"],
            ["no point logged step 7"])
    }

    /// A window rule asked of a grid with one learning rate: one line, nothing written.
    func testWindowRuleOnOneLearningRateIsRefused() throws {
        let sweep = try smokeSweep("one.toml", "[grid]\n\"optim.lr\" = [1e-3]\n\"model.qk_norm\" = [\"off\", \"head\"]")
        try assertFails(
            ["sweep", sweep.path, "--lr-window", "3"],
            ["qklab: --lr-window: the grid of \(sweep.path) has one learning rate, so there is no window to choose"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out").path))
    }

    /// Stopping a sweep stops its trainers: on SIGTERM the sweep starts no more points, passes
    /// SIGTERM to the running ones (each saves a checkpoint and ends) and waits for them, then exits
    /// 143 with one line; no trainer is left running on its own.
    func testSigtermStopsTheSweepAndItsRunningTrainers() throws {
        let sweep = try smokeSweep(
            "long.toml",
            """
            "train.max_steps" = 1000000
            "train.log_interval" = 1
            [grid]
            "optim.lr" = [1e-3, 2e-3, 3e-3]
            """)
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["sweep", sweep.path, "--jobs", "2"]
        process.currentDirectoryURL = scratch
        let stderr = scratch.appendingPathComponent("stderr.txt")
        let stdout = scratch.appendingPathComponent("stdout.txt")
        XCTAssertTrue(FileManager.default.createFile(atPath: stderr.path, contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: stdout.path, contents: nil))
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()

        let points = ["lr=0.001", "lr=0.002"].map { scratch.appendingPathComponent("out/points/\($0)") }
        let deadline = Date().addingTimeInterval(120)
        func hasStepped(_ folder: URL) -> Bool {
            ((try? String(contentsOf: folder.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "").contains(
                "\"step\": 3,")
        }
        while !points.allSatisfy(hasStepped), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertTrue(points.allSatisfy(hasStepped), "the two first points never trained")
        process.terminate()
        process.waitUntilExit()

        XCTAssertEqual(process.terminationStatus, 143)
        let message = try String(contentsOf: stderr, encoding: .utf8)
        XCTAssertEqual(message.split(separator: "\n").count, 1, message)
        XCTAssertTrue(message.contains("sweep stopped by SIGTERM"), message)
        let said = try String(contentsOf: stdout, encoding: .utf8)
        XCTAssertTrue(said.contains("stopping: the 2 running points were sent SIGTERM"), said)
        for folder in points {
            let log = try String(contentsOf: folder.appendingPathComponent("train.log"), encoding: .utf8)
            XCTAssertTrue(log.contains("stopped by SIGTERM; checkpoint saved"), log)
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: folder.appendingPathComponent("failed").path),
                "a stopped point is not a failure")
        }
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out/points/lr=0.003").path),
            "no point starts after the signal")
    }

    /// An edited sweep (issue 35, item 3): a bookkeeping key added to `[set]` after a point was
    /// interrupted is passed to that point's resumed trainer, which uses it (its config.toml and
    /// its kept checkpoints say so), and point.toml records it then; a finished point's record
    /// keeps the value its run used. A key that changes results is refused as before.
    func testAnEditedSweepPassesBookkeepingKeysToResumedPoints() throws {
        let grid = """
            "train.max_steps" = 6
            "train.checkpoint_interval" = 2
            "train.keep_checkpoints" = 3
            "train.eval_interval" = 0
            [grid]
            "optim.lr" = [1e-3, 2e-3]
            """
        let sweep = try smokeSweep("edited.toml", grid)
        let first = try qklab(["sweep", sweep.path])
        XCTAssertEqual(first.status, 0, first.output + first.error)
        // lr=0.002 as if killed after step 6 was logged, before its final checkpoint: it resumes at 4.
        let points = scratch.appendingPathComponent("out/points")
        let (finished, resumed) = (points.appendingPathComponent("lr=0.001"), points.appendingPathComponent("lr=0.002"))
        try FileManager.default.removeItem(at: resumed.appendingPathComponent("checkpoints/step-000006"))
        try smokeSweep(
            "edited.toml", grid.replacingOccurrences(of: "keep_checkpoints\" = 3", with: "keep_checkpoints\" = 1"))
        let again = try qklab(["sweep", sweep.path])
        XCTAssertEqual(again.status, 0, again.output + again.error)
        let text = { (url: URL) in try String(contentsOf: url, encoding: .utf8) }
        XCTAssertTrue(try text(resumed.appendingPathComponent("config.toml")).contains("keep_checkpoints = 1"))
        XCTAssertTrue(try text(resumed.appendingPathComponent("run.txt")).contains("train.keep_checkpoints 3 → 1"))
        XCTAssertTrue(try text(resumed.appendingPathComponent("point.toml")).contains("keep_checkpoints = 1"))
        let kept = try FileManager.default.contentsOfDirectory(
            atPath: resumed.appendingPathComponent("checkpoints").path)
        XCTAssertEqual(kept.filter { $0.hasPrefix("step-") }, ["step-000006"])
        for file in ["config.toml", "point.toml"] {
            XCTAssertTrue(try text(finished.appendingPathComponent(file)).contains("keep_checkpoints = 3"), file)
        }
        // A key that changes what is measured may not change under a trained point.
        try smokeSweep("edited.toml", grid.replacingOccurrences(of: "eval_interval\" = 0", with: "eval_interval\" = 2"))
        try assertFails(["sweep", sweep.path], ["train.eval_interval: 0 → 2"])
    }

    /// Writes a sweep file `name` in the scratch folder: the smoke config and corpus, `out` in the
    /// scratch folder, then `rest` (more `[set]` keys and the `[grid]`).
    @discardableResult
    func smokeSweep(_ name: String, _ rest: String) throws -> URL {
        let repository = Self.repository.path, sweep = scratch.appendingPathComponent(name)
        try """
        base = "\(repository)/configs/smoke.toml"
        out = "\(scratch.path)/out"
        [set]
        "data.path" = "\(repository)/data/smoke.txt"
        \(rest)
        """.write(to: sweep, atomically: true, encoding: .utf8)
        return sweep
    }

    /// A sweep file that cannot be read, and a run folder that is a file: one line with the reason.
    func testUnreadableSweepFileAndRunFolder() throws {
        try assertFails(
            ["sweep", "missing.toml"],
            ["qklab: cannot read sweep file \(scratch.path)/missing.toml: No such file or directory"])
        try assertFails(["sweep", scratch.path], ["qklab: cannot read sweep file \(scratch.path): Is a directory"])
        let file = scratch.appendingPathComponent("afile")
        try Data("x\n".utf8).write(to: file)
        try assertFails(
            ["train", "--resume", file.path], ["qklab: cannot resume \(file.path): it is a file, not a run folder"])
        try assertFails(["sample", file.path], ["qklab: \(file.path): it is a file, not a run folder"])
    }

    /// `--jobs` outside 1…256 is one line with the reason, before anything is read or written.
    func testSweepJobsOutOfRange() throws {
        for jobs in ["0", "-5", "99999999999"] {
            try assertFails(["sweep", "missing.toml", "--jobs=\(jobs)"], status: 64, ["--jobs"])
        }
    }

    /// Every shipped sweep file expands and every one of its points resolves with the trainer's
    /// config loader (a misspelt key in one grid group fails here, not hours into a study); run
    /// from an empty folder, each then reports that it has no points yet.
    func testEveryShippedSweepFileResolves() throws {
        let folder = Self.repository.appendingPathComponent("configs/sweeps")
        let files = try XCTUnwrap(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".toml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 20, "configs/sweeps and configs/sweeps/wortsman")
        for file in files {
            try assertFails(
                ["sweep", folder.appendingPathComponent(file).path, "--summary-only"], ["has no points yet"],
                in: scratch)
        }
    }
}
