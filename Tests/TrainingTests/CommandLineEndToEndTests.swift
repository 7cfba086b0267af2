import Autograd
import Foundation
import TestSupport
import XCTest

/// The `qklab` executable as a user runs it — the one `swift test` builds beside the test bundle
/// (a missing one fails every test here, saying how to build it): command-line errors are one
/// line with the right reason (issue 14, item 9), `sample` with no options works on every
/// corpus (item 5), failures of every command are one line (items 7, 8, 10), and a run that is
/// still training can be read (issue 20, item 12).
final class CommandLineEndToEndTests: ScratchTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// `qklab` beside the test bundle, where `swift test` builds every product with the tests
    /// (`.build/<triple>/debug/`, or `release/` with `-c release`), so a test run tests the
    /// executable of its own build. The bundle is `…PackageTests.xctest` in that folder (on Linux
    /// an executable, whose bundle URL may be the folder itself).
    static let executable: URL = {
        let bundle = Bundle(for: CommandLineEndToEndTests.self).bundleURL
        let folder = bundle.pathExtension == "xctest" ? bundle.deletingLastPathComponent() : bundle
        return folder.appendingPathComponent("qklab")
    }()

    /// The executable is missing, e.g. after `swift test --skip-build` or with tests built alone.
    struct MissingExecutable: Error, CustomStringConvertible {
        var description: String {
            "\(CommandLineEndToEndTests.executable.path) is missing: these tests run the qklab executable; "
                + "build it with swift build --product qklab (swift test builds it unless run with --skip-build)"
        }
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else { throw MissingExecutable() }
    }

    struct Result {
        var status: Int32
        var output: String
        var error: String
    }

    /// Runs `qklab arguments` (or `bash -c script`) and waits for it.
    @discardableResult
    func qklab(_ arguments: [String], shell: String? = nil, in folder: URL? = nil) throws -> Result {
        let process = Process()
        if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", shell + " \"$@\"", "qklab", Self.executable.path] + arguments
        } else {
            process.executableURL = Self.executable
            process.arguments = arguments
        }
        process.currentDirectoryURL = folder ?? scratch
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
            error: String(decoding: errorData, as: UTF8.self))
    }

    /// Asserts exit status `status` and exactly one line on stderr containing `fragments`.
    func assertFails(
        _ arguments: [String], status: Int32 = 1, _ fragments: [String], shell: String? = nil, in folder: URL? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try qklab(arguments, shell: shell, in: folder)
        XCTAssertEqual(result.status, status, "\(arguments): \(result.error)", file: file, line: line)
        let lines = result.error.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2, "one line: \(result.error)", file: file, line: line)
        XCTAssertEqual(lines.last, "", file: file, line: line)
        for fragment in fragments {
            XCTAssertTrue(
                result.error.contains(fragment), "\(arguments): \"\(result.error)\" lacks \"\(fragment)\"", file: file,
                line: line)
        }
        XCTAssertFalse(result.error.contains("Error Domain"), result.error, file: file, line: line)
    }

    /// A smoke run in `name` on `corpus` (a path), `steps` steps.
    func train(_ name: String, corpus: String? = nil, _ overrides: [String] = []) throws -> String {
        let corpusPath = corpus ?? Self.repository.appendingPathComponent("data/smoke.txt").path
        var arguments = [
            "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir", name,
            "--set", "data.path=\(corpusPath)", "--set", "train.max_steps=3", "--set", "train.eval_interval=0",
        ]
        arguments += overrides.flatMap { ["--set", $0] }
        let result = try qklab(arguments)
        XCTAssertEqual(result.status, 0, result.error)
        return scratch.appendingPathComponent(name).path
    }

    /// A libxsmm target naming instructions the CPU lacks (Xeon Phi's "knm", which no other CPU
    /// runs) is refused in one line before any work, not an illegal instruction at the first product.
    func testLibxsmmTargetTheCPULacksIsOneLine() throws {
        try XCTSkipUnless(SmallProducts.isAvailable, "a build without libxsmm (not x86-64)")
        try assertFails(["info"], ["LIBXSMM_TARGET=knm", "lacks"], shell: "LIBXSMM_TARGET=knm")
    }

    func testArgumentErrorsAreOneLineWithTheRightReason() throws {
        let cases: [([String], String)] = [
            (
                ["sample", "run", "--temperature=inf"],
                "qklab sample: --temperature inf: must be a finite number ≥ 0, not infinity (see 'qklab sample --help')"
            ),
            (
                ["sample", "run", "--temperature", "-inf"],
                "qklab sample: --temperature -inf: must be a finite number ≥ 0, not infinity"
            ),
            (
                ["sample", "run", "--temperature", "nan"],
                "qklab sample: --temperature nan: must be a finite number ≥ 0, not NaN"
            ),
            (
                ["sample", "run", "--temperature", "1e999"],
                "qklab sample: --temperature 1e999: must be a finite number ≥ 0 (1e999 is beyond the range of a Double)"
            ),
            (["sample", "run", "--temperature", "-0.5"], "qklab sample: --temperature -0.5: must be ≥ 0"),
            (["sample", "run", "--temperature", "warm"], "qklab sample: --temperature warm: not a number"),
            (["sample", "run", "--tokens", "-1"], "qklab sample: --tokens -1: must be an integer from 0 to 100000000"),
            (
                ["sample", "run", "--tokens", "99999999999999999999"],
                "qklab sample: --tokens 99999999999999999999: must be an integer from 0 to 100000000"
            ),
            (["sample", "run", "--tokens", "2.5"], "qklab sample: --tokens 2.5: not an integer"),
            (["sample", "run", "--top-k", "-3"], "qklab sample: --top-k -3: must be an integer ≥ 0"),
            (
                ["sample", "run", "--seed", "-1"],
                "qklab sample: --seed -1: must be an integer from 0 to 18446744073709551615"
            ),
            (
                ["sample", "run", "--seed", "18446744073709551616"],
                "qklab sample: --seed 18446744073709551616: must be an integer from 0 to 18446744073709551615"
            ),
            (["sample"], "qklab sample: Missing expected argument '<path>' (see 'qklab sample --help')"),
            (["sample", "run", "--prompt"], "qklab sample: Missing value for '--prompt <prompt>'"),
            (["sample", "run", "--colour"], "qklab sample: Unknown option '--colour'"),
            (["samples"], "qklab: Unexpected argument 'samples' (see 'qklab --help')"),
            (
                ["help", "samples"],
                "qklab help: unknown command 'samples'; the commands are train, sample, eval, compare, sweep, export-hf, logits, info (see 'qklab --help')"
            ),
            (
                ["info", "--size", "-5"],
                "qklab info: --size -5: a value starting with '-' is read as an option here; write --size=-5"
            ),
            (["info", "--seconds", "abc"], "qklab info: --seconds abc: not a valid value"),
            (
                ["train"],
                "qklab train: give --config FILE for a new run or --resume DIR to continue one (see 'qklab train --help')"
            ),
            (["logits", "run"], "qklab logits: give exactly one of --tokens and --text"),
            (["export-hf", "run"], "qklab export-hf: Missing expected argument '<output>'"),
            (
                ["compare", "run", "--target", "nan"],
                "qklab compare: --target nan: must be a finite number ≥ 0, not NaN"
            ),
            (
                ["compare", "run", "--target", "-inf"],
                "qklab compare: --target -inf: must be a finite number ≥ 0, not infinity"
            ),
            (["compare", "run", "--target", "-1"], "qklab compare: --target -1: must be ≥ 0"),
            (
                ["compare", "run", "--at-step", "80,-1"],
                "qklab compare: --at-step 80,-1: \"-1\": must be an integer ≥ 0"
            ),
            (
                ["compare", "run", "--key", "attn_logit_max"],
                "qklab compare: --key chooses what --mean-last or --at-step shows: give one of them too"
            ),
            (
                ["compare", "run", "--metric", "val_loss"],
                "qklab compare: --metric chooses the chart's panels: give --out FILE.svg too"
            ),
            // Usage errors found past parsing exit 64 too (issue 35, item 7).
            (["sweep", "s.toml", "--shard", "3/2"], "qklab sweep: --shard 3/2: expected i/n"),
            (["train", "--config", "c.toml", "--set", "lr"], "qklab train: --set lr: expected section.key=value"),
            (["train", "--resume", "run", "--set", "optim.lrr=1"], "qklab train: --set optim.lrr=1: unknown key"),
            (["train", "--config", "c.toml", "--set", "train.max_steps=ten"], "train.max_steps must be an integer"),
            (["sample", "run", "--prompt", ""], "qklab sample: --prompt must not be empty"),
            (
                ["export-hf", "run", "out", "--class", "GPT2"],
                "qklab export-hf: --class: unknown Hugging Face class \"GPT2\""
            ),
            (["logits", "run", "--tokens", "1,x"], "qklab logits: --tokens: \"x\" is not a token id (not an integer)"),
        ]
        for (arguments, expected) in cases {
            try assertFails(arguments, status: 64, [expected])
        }
        // Help and version still print normally.
        let help = try qklab(["sample", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("--temperature"))
        XCTAssertTrue(help.output.contains("(default: a line feed, or"), help.output)
        let flattened = help.output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for shown in ["(default: 500)", "(default: 0.8)", "(default: 0)"] {
            XCTAssertTrue(flattened.contains(shown), "\(shown) in \(help.output)")
        }
        XCTAssertEqual(try qklab(["help", "sample"]).output, help.output)
        XCTAssertEqual(try qklab(["help", "help"]).status, 0)
        XCTAssertEqual(try qklab(["--version"]).status, 0)
    }

    /// `sample RUN` with no options on corpora without a line feed, with CR LF only, with CR
    /// only, of emoji: it continues a prompt that is always in the vocabulary.
    func testSampleWithNoOptionsWorksOnEveryCorpus() throws {
        let corpora: [String: String] = [
            "crlf": String(repeating: "To be, or not to be\r\n", count: 300),
            "one-line": String(repeating: "abcd efgh ", count: 300),
            "cr": String(repeating: "line\r", count: 300),
            "emoji": String(
                repeating: "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{1F1FA}\u{1F1F8} e\u{301}\u{E9} ", count: 100),
        ]
        for (name, text) in corpora {
            let corpus = scratch.appendingPathComponent("\(name).txt")
            try Data(text.utf8).write(to: corpus)
            let run = try train(name, corpus: corpus.path)
            let result = try qklab(["sample", run, "--tokens", "40"])
            XCTAssertEqual(result.status, 0, "\(name): \(result.error)")
            XCTAssertEqual(result.error, "", name)
            XCTAssertGreaterThanOrEqual(result.output.unicodeScalars.count, 41, name)
            XCTAssertEqual(
                try qklab(["sample", run, "--prompt", "-", "--tokens", "1"]).error.contains("Missing value"), false,
                "a prompt may start with '-'")
        }
        // The vocabulary is code points: the CR LF run's vocab.json has "\r" and "\n" apart.
        let export = scratch.appendingPathComponent("crlf-hf").path
        XCTAssertEqual(try qklab(["export-hf", scratch.appendingPathComponent("crlf").path, export]).status, 0)
        let vocabulary = try JSONDecoder().decode(
            [String].self, from: Data(contentsOf: URL(fileURLWithPath: export).appendingPathComponent("vocab.json")))
        XCTAssertEqual(vocabulary.prefix(2), ["\n", "\r"])
        XCTAssertTrue(vocabulary.allSatisfy { $0.unicodeScalars.count == 1 })
    }

    /// Failures while running are one line naming the path and the reason.
    func testRuntimeFailuresAreOneLine() throws {
        let run = try train("run")
        try assertFails(["eval", "missing"], ["qklab: missing: no such run or checkpoint folder"])
        // A damaged metrics line is skipped with a note, not in silence.
        let metricsURL = URL(fileURLWithPath: run).appendingPathComponent("metrics.jsonl")
        let metricsText = try String(contentsOf: metricsURL, encoding: .utf8)
        try ("{\"step\": 2, \"loss\n" + metricsText).write(to: metricsURL, atomically: true, encoding: .utf8)
        let compared = try qklab(["compare", run])
        XCTAssertEqual(compared.status, 0, compared.error)
        XCTAssertEqual(compared.error, "qklab: note: \(metricsURL.path): 1 damaged line skipped\n")
        try metricsText.write(to: metricsURL, atomically: true, encoding: .utf8)
        // A key no run logs is refused before anything is printed.
        try assertFails(
            ["compare", run, "--at-step", "2", "--key", "attn_logit_max,nope"],
            ["qklab: --key nope: no run logs this key in its training lines"])
        XCTAssertEqual(try qklab(["compare", run, "--at-step", "2", "--key", "nope"]).output, "")
        let atStep = try qklab(["compare", run, "--at-step", "2", "--key", "loss"])
        XCTAssertEqual(atStep.status, 0, atStep.error)
        XCTAssertTrue(atStep.output.contains("loss @ 2"), atStep.output)
        // A run refused for its input (here its corpus) leaves no empty folder behind.
        let refused = scratch.appendingPathComponent("refused").path
        try assertFails(
            [
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir",
                refused,
                "--set", "data.path=/no/such.txt",
            ], ["qklab: corpus /no/such.txt: no such file"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: refused))
        // Lists with an empty item are refused, not read without it.
        try assertFails(
            ["logits", run, "--tokens", "1,,2"], status: 64,
            ["qklab logits: --tokens: \"\" is not a token id (an empty item)"])
        try assertFails(
            ["compare", run, "--metric", "train_loss,"], status: 64, ["qklab compare: --metric \"\": expected one of"])
        // Someone's own folder is neither trained into nor exported into.
        let own = scratch.appendingPathComponent("own")
        try FileManager.default.createDirectory(at: own, withIntermediateDirectories: true)
        try Data("mine\n".utf8).write(to: own.appendingPathComponent("config.toml"))
        try Data("mine\n".utf8).write(to: own.appendingPathComponent("config.json"))
        try assertFails(
            [
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir",
                own.path,
                "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
            ],
            ["qklab: run folder \(own.path) is not empty and holds no QKLab run (it holds: config.json, config.toml)"])
        try assertFails(
            ["export-hf", run, own.path],
            [
                "qklab: export folder \(own.path) holds files export-hf did not write (config.json, config.toml); export into a new or empty folder"
            ])
        XCTAssertEqual(try Data(contentsOf: own.appendingPathComponent("config.json")), Data("mine\n".utf8))
        XCTAssertEqual(try Data(contentsOf: own.appendingPathComponent("config.toml")), Data("mine\n".utf8))
        // An earlier export is replaced; one with a file added by the user is not.
        let export = scratch.appendingPathComponent("hf").path
        XCTAssertEqual(try qklab(["export-hf", run, export]).status, 0)
        XCTAssertEqual(try qklab(["export-hf", run, export]).status, 0, "an earlier export is replaced")
        try Data("# card\n".utf8).write(to: URL(fileURLWithPath: export).appendingPathComponent("README.md"))
        try assertFails(["export-hf", run, export], ["holds files export-hf did not write (README.md)"])
        // Each of the export's own names is checked: a vocab.json (even one listing a character
        // twice) or model.safetensors of someone's own is named and kept; beside a config.json of
        // someone's own nothing counts as the export's.
        try FileManager.default.removeItem(at: URL(fileURLWithPath: export).appendingPathComponent("README.md"))
        for (name, text, named) in [
            ("vocab.json", "my vocab\n", "vocab.json"), ("vocab.json", "[\"a\",\"a\"]", "vocab.json"),
            ("model.safetensors", "junk\n", "model.safetensors"),
            ("config.json", "{}\n", "config.json, model.safetensors, vocab.json"),
        ] {
            let file = URL(fileURLWithPath: export).appendingPathComponent(name)
            let original = try Data(contentsOf: file)
            try Data(text.utf8).write(to: file)
            try assertFails(
                ["export-hf", run, export],
                [
                    "qklab: export folder \(export) holds files export-hf did not write (\(named)); export into a new or empty folder"
                ])
            XCTAssertEqual(try Data(contentsOf: file), Data(text.utf8))
            try original.write(to: file)
        }
        XCTAssertEqual(try qklab(["export-hf", run, export]).status, 0, "the export restored is replaced again")
        // A file-size limit (SIGXFSZ not even ignored by the shell: qklab ignores it itself).
        let limited = scratch.appendingPathComponent("limited").path
        try assertFails(
            [
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir",
                limited,
                "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
                "--set", "train.max_steps=5000", "--set", "train.checkpoint_interval=0",
            ],
            ["qklab: cannot write", "\(limited)/", "File too large"], shell: "ulimit -f 50; exec")
        let metrics = try Data(contentsOf: URL(fileURLWithPath: limited).appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(metrics.last, 0x0A, "no torn line")
        // Memory the system refuses (a 3 GB address space, a model of 1.4e9 parameters): one line,
        // not the runtime's backtrace; the next run in that folder starts.
        let big = scratch.appendingPathComponent("big").path
        let smallModel = ["--set", "model.d_model=32", "--set", "model.n_layer=1", "--set", "model.n_head=1"]
        let bigModel = ["--set", "model.d_model=4096", "--set", "model.n_layer=7", "--set", "model.n_head=32"]
        let trainInBig = [
            "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir", big,
            "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
            "--set", "train.max_steps=2", "--set", "train.eval_interval=0",
        ]
        try assertFails(
            trainInBig + bigModel, ["qklab: out of memory: cannot allocate", "Cannot allocate memory"],
            shell: "ulimit -v 3000000; exec")
        let retried = try qklab(trainInBig + smallModel)
        XCTAssertEqual(retried.status, 0, retried.error)
        // Output that cannot be written is a failure, not an empty success.
        try assertFails(
            ["sample", run], ["qklab: cannot write standard output: No space left on device"],
            shell: "exec > /dev/full; exec")
        try assertFails(
            ["eval", run], ["qklab: cannot write standard output: No space left on device"],
            shell: "exec > /dev/full; exec")
        try assertFails(
            ["export-hf", run, "/proc/version/hf"], ["qklab: cannot create folder /proc/version/hf: Not a directory"])
        // compare --out: a new file, then its own chart replaced; someone's file, a folder, a missing folder refused.
        let chart = scratch.appendingPathComponent("chart.svg").path
        XCTAssertEqual(try qklab(["compare", run, "--out", chart]).status, 0)
        XCTAssertEqual(try qklab(["compare", run, run, "--out", chart]).status, 0, "its own chart is replaced")
        let notes = own.appendingPathComponent("config.toml").path
        try assertFails(
            ["compare", run, "--out", notes],
            [
                "qklab: cannot write chart \(notes): a file that qklab compare did not write is there, and QKLab never overwrites one"
            ])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: notes)), Data("mine\n".utf8))
        try assertFails(["compare", run, "--out", own.path], ["qklab: cannot write chart \(own.path): it is a folder"])
        let dangling = scratch.appendingPathComponent("dangling.svg")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: "/no/such/target.svg")
        let linked = scratch.appendingPathComponent("linked.svg")
        try FileManager.default.createSymbolicLink(atPath: linked.path, withDestinationPath: chart)
        for link in [dangling, linked] {  // to nothing, and to a chart of its own: the link stays a link
            try assertFails(
                ["compare", run, "--out", link.path],
                ["qklab: cannot write chart \(link.path): a symbolic link is there"])
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: dangling.path), "/no/such/target.svg")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: linked.path), chart)
        // A panel asked for that no run has data for is drawn empty, with a note.
        let unevaluated = scratch.appendingPathComponent("unevaluated").path
        XCTAssertEqual(
            try qklab([
                "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir",
                unevaluated,
                "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
                "--set", "train.max_steps=2", "--set", "train.eval_interval=0",
            ]).status, 0)
        let empty = try qklab([
            "compare", unevaluated, "--metric", "val_loss,train_loss", "--out",
            scratch.appendingPathComponent("empty.svg").path,
        ])
        XCTAssertEqual(empty.status, 0)
        XCTAssertEqual(empty.error, "qklab: note: no run has val_loss data: its panel is empty\n")
        try assertFails(
            ["compare", run, "--out", "/proc/version/chart.svg"],
            ["qklab: cannot write /proc/version/chart.svg: Not a directory"])
        let missing = scratch.appendingPathComponent("no/such/chart.svg").path
        try assertFails(
            ["compare", run, "--out", missing], ["qklab: cannot write \(missing): No such file or directory"])
        XCTAssertEqual(try qklab(["compare", run, "--out", missing]).output, "", "refused before the table is printed")
    }

    /// A flipped byte in a checkpoint's tensor data is refused by every command that reads it.
    func testDamagedCheckpointIsRefusedByEveryCommand() throws {
        let run = try train("run")
        let model = URL(fileURLWithPath: run).appendingPathComponent("checkpoints/step-000003/model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 10] ^= 0x40
        try bytes.write(to: model)
        let damaged = "checkpoint file \(model.path) is damaged: its CRC32C is "
        try assertFails(["eval", run], ["qklab: \(damaged)"])
        try assertFails(["sample", run], ["qklab: \(damaged)"])
        try assertFails(["logits", run, "--tokens", "1,2"], ["qklab: \(damaged)"])
        try assertFails(["export-hf", run, scratch.appendingPathComponent("out").path], ["qklab: \(damaged)"])
        try assertFails(["train", "--resume", run, "--set", "train.max_steps=4"], ["qklab: \(damaged)"])
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: scratch.appendingPathComponent("out").path), "nothing exported")
    }

    /// With an intact older checkpoint, every command that reads a run falls back to it past a
    /// damaged newest one, with a note naming the damaged file (issue 35, item 2).
    func testDamagedNewestCheckpointFallsBackInEveryCommand() throws {
        let run = try train("run", ["train.checkpoint_interval=2", "train.keep_checkpoints=2"])
        let model = URL(fileURLWithPath: run).appendingPathComponent("checkpoints/step-000003/model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 10] ^= 0x40
        try bytes.write(to: model)
        let note = "qklab: note: checkpoint file \(model.path) is damaged: its CRC32C is "
        for arguments in [
            ["eval", run], ["sample", run, "--tokens", "5"], ["logits", run, "--tokens", "1,2"],
            ["export-hf", run, scratch.appendingPathComponent("out").path],
            ["train", "--resume", run, "--set", "train.max_steps=4"],
        ] {
            let result = try qklab(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.error)")
            XCTAssertTrue(result.error.hasPrefix(note), "\(arguments): \(result.error)")
            XCTAssertTrue(result.error.contains("; using the older step-000002\n"), "\(arguments): \(result.error)")
        }
        XCTAssertEqual(try qklab(["eval", run]).error, "", "the resumed run wrote step 3 anew")
    }

    /// eval, sample and export-hf on a run that checkpoints every step keeping one: every call
    /// succeeds.
    func testCommandsOnARunThatIsStillTraining() throws {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = [
            "train", "--config", Self.repository.appendingPathComponent("configs/smoke.toml").path, "--run-dir", "live",
            "--set", "data.path=\(Self.repository.appendingPathComponent("data/smoke.txt").path)",
            "--set", "train.max_steps=100000", "--set", "train.checkpoint_interval=1", "--set",
            "train.keep_checkpoints=1",
            "--set", "train.eval_interval=0", "--set", "train.log_interval=0",
        ]
        process.currentDirectoryURL = scratch
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()  // SIGTERM to the trainer this test started
            process.waitUntilExit()
        }
        let live = scratch.appendingPathComponent("live")
        while !FileManager.default.fileExists(atPath: live.appendingPathComponent("checkpoints/latest").path) {
            usleep(20_000)
        }
        var failures: [String] = []
        for round in 0..<8 {
            for arguments in [
                ["eval", live.path], ["sample", live.path, "--tokens", "5"], ["export-hf", live.path, "out-\(round)"],
            ] {
                let result = try qklab(arguments)
                if result.status != 0 { failures.append("\(arguments[0]): \(result.error)") }
            }
        }
        XCTAssertTrue(process.isRunning, "the trainer was still running")
        XCTAssertEqual(failures, [])
    }
}
