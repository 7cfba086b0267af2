import ArgumentParser
import Formats
import Foundation
import HuggingFace
import Multiprocess
import Training

/// `qklab train`: a new run from a config, or `--resume` of an existing one.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model from a TOML config, or resume a run.")

    @Option(help: "TOML config file.")
    var config: String?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a config key, e.g. --set optim.lr=3e-3 (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    @Option(help: "Run folder (default: run.dir/run.name, the name defaulting to the config file's).")
    var runDir: String?

    @Option(help: "Continue the run in this folder from its latest checkpoint.")
    var resume: String?

    @Option(
        help: ArgumentHelp(
            "Start the new run from the weights of a Hugging Face folder (a qklab export-hf, or a Qwen3, Llama, OLMo 2/3, Gemma 3 or dense Qwen3-Next model whose config fits [model]).",
            valueName: "folder"))
    var initFrom: String?

    func validate() throws {
        if config == nil && resume == nil {
            throw ValidationError("give --config FILE for a new run or --resume DIR to continue one")
        }
        if config != nil && resume != nil {
            throw ValidationError(
                "--config and --resume exclude each other (a resumed run keeps its config; --set changes what a resume may change, see docs/resume-and-determinism.md)"
            )
        }
        if resume != nil && runDir != nil {
            throw ValidationError("--run-dir is for new runs; --resume names the folder")
        }
        if resume != nil && initFrom != nil {
            throw ValidationError("--init-from is for new runs; a resumed run continues from its own checkpoint")
        }
        // A --set that is not section.key=value of a known key and a value of its type and range
        // is a usage error; whether the config it makes holds together is checked with the config.
        var scratch = TrainingConfig()
        for override in overrides {
            do {
                try ConfigLoader.apply(override: override, to: &scratch)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    /// Under `mpirun` (a build with the trait MPI), every process runs this command and they train
    /// as one job (docs/distributed.md); an error on any one ends the job with
    /// its one line.
    func run() throws {
        let group = try ProcessGroup.start()  // MPI_Init_thread, before the signal threads start
        do {
            try group.failingTogether { try train(in: group) }
        } catch {
            group.finish()
            throw error
        }
        group.finish()
    }

    func train(in group: ProcessGroup) throws {
        let job = group.size > 1 ? ProcessGroupJob(group: group) : nil
        StopSignal.install()
        // Every process reads its config, corpus and checkpoint, then checks it starts where
        // process 0 does (step, corpus, config); a failure on any (or all) of them ends the job
        // with one line before the first collective of training, and what process 0 claimed is
        // given back (its lock; a new run's folder), so that a retry finds the folder as it was.
        var made: Trainer?, failure: Error?
        do { made = try makeTrainer(job: job) } catch { failure = error }
        group.endIfAnyFailed(failure) { made?.abandonStart() }
        guard let trainer = made else { throw failure! }
        do { try trainer.checkSameStart() } catch { failure = error }
        group.endIfAnyFailed(failure) { trainer.abandonStart() }
        // Open MPI gives process 0 a pseudo-terminal and forwards its output line by line: plain
        // progress lines, not a redrawn line (the other processes print nothing).
        if let job, job.rank == 0 { trainer.progress = ConsoleProgress(isTerminal: false) }
        do {
            try trainer.run()
        } catch let interrupted as TrainingInterrupted {
            FileHandle.standardError.write(Data("qklab: \(interrupted)\n".utf8))
            throw ExitCode(interrupted.exitCode)
        } catch let stop as EveryProcessStop {
            // Every process stopped at the same step: all leave the job, then process 0 says why
            // (after MPI_Finalize, so that a job being torn down by mpirun after another
            // process's failure, whose SIGTERM looks like a stop request, adds no second line).
            group.finish()
            if group.rank == 0 { FileHandle.standardError.write(Data("qklab: \(stop)\n".utf8)) }
            Foundation.exit((stop.error as? TrainingInterrupted)?.exitCode ?? EXIT_FAILURE)
        }
    }

    /// A new run from `--config`, or the run of `--resume`.
    func makeTrainer(job: TrainingJob?) throws -> Trainer {
        if let resume {
            return try Trainer(resuming: RunFolder(URL(fileURLWithPath: resume)), overrides: overrides, job: job)
        }
        let configURL = URL(fileURLWithPath: config!)
        let trainingConfig = try ConfigLoader.load(configURL, overrides: overrides)
        let folder =
            try runDir.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: trainingConfig.run.dir).appendingPathComponent(
                ConfigLoader.runFolderName(
                    trainingConfig, fallback: configURL.deletingPathExtension().lastPathComponent))
        return try Trainer(
            config: trainingConfig, folder: RunFolder(folder), configSource: config!,
            initialWeights: initFrom.map { HuggingFaceImport.initialWeights(URL(fileURLWithPath: $0)) }, job: job)
    }
}
