import Foundation
import Training
import XCTest

final class ConfigTests: XCTestCase {
    func parse(_ text: String) throws -> TrainingConfig {
        try ConfigLoader.parse(text, source: "test.toml")
    }

    func errorMessage(_ text: String, overrides: [String] = []) -> String? {
        do {
            var config = try parse(text)
            for override in overrides { try ConfigLoader.apply(override: override, to: &config) }
            try ConfigLoader.validate(config)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testDefaultsAndPartialFiles() throws {
        let config = try parse("[model]\nd_model = 64\n[optim]\nlr = 3e-3\n")
        XCTAssertEqual(config.model.dModel, 64)
        XCTAssertEqual(config.model.nLayer, 4)
        XCTAssertEqual(config.optim.lr, 3e-3)
        XCTAssertEqual(config.optim.beta2, 0.95)
        XCTAssertEqual(config.train.onNonfinite, .stop)
    }

    func testEveryShippedConfigLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let configs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("configs").path)
            .filter { $0.hasSuffix(".toml") }
        XCTAssertGreaterThanOrEqual(configs.count, 4)
        for name in configs {
            XCTAssertNoThrow(try ConfigLoader.load(root.appendingPathComponent("configs/\(name)")), name)
        }
        let head = try ConfigLoader.load(root.appendingPathComponent("configs/shakespeare-qknorm.toml"))
        var off = try ConfigLoader.load(root.appendingPathComponent("configs/shakespeare-noqknorm.toml"))
        XCTAssertEqual(off.model.qkNorm, .off)
        off.model.qkNorm = .head
        XCTAssertEqual(head, off, "the shakespeare pair differs only in qk_norm")
    }

    func testUnknownKeysNameFileLineAndSuggest() {
        XCTAssertEqual(
            errorMessage("[model]\nd_model = 64\nqk_nrom = \"off\"\n"),
            "test.toml:3: unknown key 'qk_nrom' in [model]; did you mean 'qk_norm'?")
        XCTAssertEqual(
            errorMessage("[optim]\nlr = 1e-3\nbatch_size = 4\n"),
            "test.toml:3: unknown key 'batch_size' in [optim]; it belongs in [train]")
        XCTAssertEqual(
            errorMessage("[trian]\nmax_steps = 4\n"),
            "test.toml:1: unknown section [trian]; did you mean 'train'?")
        XCTAssertEqual(
            errorMessage("[model]\nvocab_size = 80\n"),
            "test.toml:2: unknown key 'vocab_size' in [model]: the vocabulary always comes from the corpus")
    }

    /// Every way TOML can define a key or a section points at its own line: a sub-table header,
    /// an array of tables, dotted keys inside a section and at the top, quoted keys.
    func testProblemsNameTheLineWhateverTheTOMLSpelling() {
        func line(_ text: String) -> String {
            (errorMessage(text) ?? "accepted").split(separator: ":").dropFirst().first.map(String.init)
                ?? "no line: \(text)"
        }
        XCTAssertEqual(line("[data]\npath = \"x\"\n\n[model]\nd_model = 32\n\n[model.extra]\nx = 1\n"), "7")
        XCTAssertEqual(line("[data]\npath = \"x\"\n[[model]]\nd_model = 32\n"), "3")
        XCTAssertEqual(line("[model]\nd_model = 32\nextra.x = 1\n"), "3")
        XCTAssertEqual(line("# a comment\nmodel.d_model = 32\nmodel.extra = 1\n"), "3")
        XCTAssertEqual(line("[model]\n\"qk_nrom\" = \"off\"\n"), "2")
        XCTAssertEqual(line("[ model ]\nn_layer = \"four\"\n"), "2")
        XCTAssertEqual(line("[model]\nd_model = 32\n[model.extra]\n"), "3")
        XCTAssertEqual(line("[[trian]]\nmax_steps = 4\n"), "1")
        XCTAssertEqual(line("# inline tables\nmodel = { d_model = \"x\" }\n"), "2")
        XCTAssertEqual(line("[model]\nd_model = 32\nextra = { x = 1 }\n"), "3")
    }

    func testWrongTypesAndRanges() {
        XCTAssertEqual(
            errorMessage("[model]\nn_layer = \"four\"\n"),
            "test.toml:2: model.n_layer must be an integer (got \"four\")")
        XCTAssertEqual(
            errorMessage("[model]\nqk_norm = \"both\"\n"),
            "test.toml:2: model.qk_norm must be one of \"off\", \"head\", \"full\" (got \"both\")")
        XCTAssertEqual(errorMessage("\n[optim]\nlr = -1.0\n"), "test.toml:3: optim.lr must be > 0.0 (got -1.0)")
        XCTAssertEqual(errorMessage("[train]\nbatch_size = 0\n"), "test.toml:2: train.batch_size must be ≥ 1 (got 0)")
        XCTAssertEqual(
            errorMessage("[model]\ntie_embeddings = 1\n"),
            "test.toml:2: model.tie_embeddings must be true or false (got 1)")
        XCTAssertEqual(
            errorMessage("[model]\nd_model = [64]\n"), "test.toml:2: model.d_model must be an integer (got an array)")
        XCTAssertEqual(
            errorMessage("[model]\nd_model = { x = 1 }\n"),
            "test.toml:2: model.d_model must be an integer (got a table)")
        XCTAssertEqual(
            errorMessage("[model]\nd_model = 1979-05-27T07:32:00Z\n"),
            "test.toml:2: model.d_model must be an integer (got a date-time)")
        XCTAssertEqual(
            errorMessage("[data]\nval_fraction = 1.5\n"),
            "test.toml:2: data.val_fraction must be > 0.0 and < 1.0 (got 1.5)")
    }

    /// Values with the right type but no sense name the actual reason: not finite, beyond what a
    /// 64-bit number holds, or past a limit that could only exhaust the machine (a trainer asked
    /// for 100,000 threads used to hang at start-up).
    func testOverridesNameTheRightReason() {
        func overrideError(_ override: String) -> String {
            var config = TrainingConfig()
            do { try ConfigLoader.apply(override: override, to: &config) } catch { return "\(error)" }
            return "accepted"
        }
        XCTAssertEqual(overrideError("optim.lr=inf"), "--set optim.lr=inf: optim.lr must be a finite number (got inf)")
        XCTAssertEqual(
            overrideError("optim.beta2=nan"), "--set optim.beta2=nan: optim.beta2 must be a finite number (got nan)")
        XCTAssertEqual(
            overrideError("optim.lr=1e999"), "--set optim.lr=1e999: optim.lr 1e999 is too large for a 64-bit float")
        XCTAssertEqual(
            overrideError("train.max_steps=99999999999999999999"),
            "--set train.max_steps=99999999999999999999: train.max_steps 99999999999999999999 is too large for a 64-bit integer"
        )
        XCTAssertEqual(
            overrideError("train.threads=100000"),
            "--set train.threads=100000: train.threads must be from 0 to 1024 (got 100000)")
        XCTAssertEqual(
            overrideError("train.eval_batches=1000000000"),
            "--set train.eval_batches=1000000000: train.eval_batches must be from 1 to 100000 (got 1000000000)")
        XCTAssertEqual(
            overrideError("train.shards=0"), "--set train.shards=0: train.shards must be from 1 to 1024 (got 0)")
        XCTAssertEqual(overrideError("train.threads=1024"), "accepted")
        XCTAssertEqual(errorMessage("[optim]\nlr = inf\n"), "test.toml:2: optim.lr must be a finite number (got inf)")
    }

    func testSyntaxErrorsAndCrossKeyChecks() {
        XCTAssertTrue(errorMessage("[model]\nd_model = = 3\n")!.hasPrefix("test.toml:2: "))
        XCTAssertEqual(
            errorMessage("[model]\n\"d_model\" = 32\n\"d_model\" = 64\n"),
            "test.toml:3: \"d_model\" is defined twice (TOML allows one definition of each key and table)")
        XCTAssertEqual(
            errorMessage("[model]\r\n\"d_model\" = 32\r\n\"d_model\" = 64\r\n"),
            "test.toml:3: \"d_model\" is defined twice (TOML allows one definition of each key and table)")
        XCTAssertEqual(
            errorMessage("[model]\nd_model = 32\n[model]  # again\n"),
            "test.toml:3: [model] is defined twice (TOML allows one definition of each key and table)")
        XCTAssertEqual(
            errorMessage("[model]\nn_head = 6\n"),
            "[model] n_head (6) must divide d_model (128) when head_dim is not set")
        XCTAssertEqual(
            errorMessage("[optim]\nlr = 1e-3\nmin_lr = 1e-2\n"), "[optim] min_lr (0.01) must not exceed lr (0.001)")
        for name in ["../../escape", "a/b", "..", "."] {
            var config = TrainingConfig()
            config.run.name = name
            XCTAssertThrowsError(try ConfigLoader.runFolderName(config, fallback: "cfg")) {
                XCTAssertEqual(
                    "\($0)",
                    "[run] name \"\(name)\" must be one folder name (no '/', not '.' or '..'): the run's folder is run.dir/run.name"
                )
            }
        }
        var named = TrainingConfig()
        XCTAssertEqual(try ConfigLoader.runFolderName(named, fallback: "cfg"), "cfg")
        named.run.name = "my run.v2"
        XCTAssertEqual(try ConfigLoader.runFolderName(named, fallback: "cfg"), "my run.v2")
        // Read from a file, a check of several keys names the file (and the --set that took part).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qklab-cross-\(getpid()).toml")
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertNoThrow(
            try "[model]\nn_head = 6\nrope_fraction = 2.0\n".write(to: file, atomically: true, encoding: .utf8))
        func loadError(_ overrides: [String]) -> String {
            do { _ = try ConfigLoader.load(file, overrides: overrides) } catch { return "\(error)" }
            return "accepted"
        }
        XCTAssertEqual(
            loadError(["model.rope_fraction=1"]),
            "\(file.path) with --set model.rope_fraction=1: [model] n_head (6) must divide d_model (128) when head_dim is not set"
        )
        XCTAssertEqual(
            loadError(["model.n_head=4"]),
            "\(file.path) with --set model.n_head=4: [model] rope_fraction must be in (0, 1] (got 2.0)")
        XCTAssertEqual(loadError(["model.n_head=4", "model.rope_fraction=0.5"]), "accepted")
    }

    func testOverrides() throws {
        var config = try parse("[optim]\nlr = 1e-3\n")
        try ConfigLoader.apply(override: "optim.lr=3e-3", to: &config)
        try ConfigLoader.apply(override: "model.qk_norm=off", to: &config)
        try ConfigLoader.apply(override: "model.tie_embeddings=false", to: &config)
        try ConfigLoader.apply(override: "run.name=\"my run\"", to: &config)
        try ConfigLoader.apply(override: "optim.min_lr=1", to: &config)  // an integer where a number goes
        XCTAssertEqual(config.optim.lr, 3e-3)
        XCTAssertEqual(config.model.qkNorm, .off)
        XCTAssertFalse(config.model.tieEmbeddings)
        XCTAssertEqual(config.run.name, "my run")
        XCTAssertEqual(config.optim.minLR, 1)
        XCTAssertEqual(
            errorMessage("", overrides: ["optim.learning_rate=1"]),
            "--set optim.learning_rate=1: unknown key 'optim.learning_rate'; valid keys: name, lr, min_lr, warmup_steps, decay_steps, beta1, beta2, eps, weight_decay, weight_decay_mode, decay_norm_weights, grad_clip, mup_base_width, adamw_lr, qk_clip_tau"
        )
        XCTAssertEqual(
            errorMessage("", overrides: ["train.max_step=10"]),
            "--set train.max_step=10: unknown key 'train.max_step'; did you mean 'max_steps'?")
        XCTAssertEqual(
            errorMessage("", overrides: ["train.max_steps=ten"]),
            "--set train.max_steps=ten: train.max_steps must be an integer (got \"ten\")")
        XCTAssertEqual(errorMessage("", overrides: ["lr"]), "--set lr: expected section.key=value")
    }

    /// The resolved config is complete and reads back to the same config.
    func testResolvedConfigRoundTrip() throws {
        var config = try parse("[model]\nqk_norm = \"full\"\n[optim]\nlr = 2e-3\n[run]\nname = \"x\"\n")
        config.model.vocabSize = 65
        let text = config.resolvedTOML()
        XCTAssertTrue(text.contains("n_kv_head = 4"))
        XCTAssertTrue(text.contains("d_ff = 352"))
        var reread = try parse(text)
        reread.model.vocabSize = 65
        XCTAssertEqual(reread.model, config.model.resolved)
        XCTAssertEqual(reread.optim.lr, 2e-3)
        XCTAssertEqual(reread.optim.minLR!, 2e-4, accuracy: 1e-15)
        XCTAssertEqual(reread.optim.decaySteps, 2000)
        XCTAssertEqual(reread.run, config.run)
        // Values print as written: the shortest decimal that reads back to the same value.
        XCTAssertTrue(text.contains("norm_eps = 1e-06"), text)
        config.model.normEps = 1e-5
        config.optim.beta2 = 0.95
        XCTAssertTrue(config.resolvedTOML().contains("norm_eps = 1e-05"))
        XCTAssertTrue(config.resolvedTOML().contains("beta2 = 0.95"))
        XCTAssertEqual(try parse(config.resolvedTOML()).model.normEps, 1e-5)
    }

    /// A config that cannot be read: the path and the operating system's reason.
    func testUnreadableConfigFile() {
        XCTAssertThrowsError(try ConfigLoader.load(URL(fileURLWithPath: "/nonexistent/x.toml"))) { error in
            XCTAssertEqual("\(error)", "cannot read config /nonexistent/x.toml: No such file or directory")
        }
        XCTAssertThrowsError(try ConfigLoader.load(URL(fileURLWithPath: "/tmp"))) { error in
            XCTAssertEqual("\(error)", "cannot read config /tmp: Is a directory")
        }
    }
}
