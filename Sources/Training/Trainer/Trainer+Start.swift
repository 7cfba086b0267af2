import Autograd
import Formats
import Foundation
import Transformer

/// How a trainer starts: its batch-shard runners, the checks and the take-back of a start under
/// `mpirun`, the threads, and the header it prints and writes to `run.txt`. The training loop is
/// in Trainer.swift.
extension Trainer {
    /// AdamW over `model`'s parameters, with µParam's update multipliers when `optim.mup_base_width` is set.
    static func optimizer(for model: TransformerModel, config: TrainingConfig) -> AdamW {
        AdamW(
            parameters: model.parameters, config: config.optim,
            updateMultipliers: MuParam.updateMultipliers(
                model.parameters, model: config.model, baseWidth: config.optim.mupBaseWidth))
    }

    /// The runner of the batch shards: every shard here, or under `mpirun` this process's group of
    /// the `min(train.shards, batch_size)` shards a batch makes, with their exchange.
    static func shardRunners(model: TransformerModel, config: TrainingConfig, job: TrainingJob?) throws -> (
        DataParallel, DistributedStep?
    ) {
        guard let job else { return (DataParallel(model: model, shards: config.train.shards!), nil) }
        let shards = min(config.train.shards!, config.train.batchSize)
        let step = try DistributedStep(
            job: job, shards: shards, parameterCount: model.gradientBuffer.count, model: config.model)
        return (DataParallel(model: model, shards: shards, localShards: step.localShards), step)
    }

    /// Under `mpirun`, checks (collectively: every process of the job must call it, before
    /// `run()`) that this process starts from process 0's step, corpus and config; nothing
    /// without a job. Throws `RunError` naming what differs, on the process that differs.
    public func checkSameStart() throws {
        try distributed?.checkSameStart(step: step, corpus: corpus.fingerprint, config: config, folder: folder.url.path)
    }

    /// Takes back a start whose `run()` never began (another process of the job refused to
    /// start): gives the folder's lock back and, for a new run, removes its folder when the
    /// trainer created it (folders above it that were created with it stay). Nothing else was
    /// written yet. Does nothing on a process that does not write the folder.
    public func abandonStart() {
        guard start != nil else { return }
        claim?.abandon()
    }

    /// Whether this process writes the run folder: always, except under `mpirun` on processes
    /// other than 0.
    var writesRunFolder: Bool { distributed.map { $0.job.rank == 0 } ?? true }

    /// Where a shared stop is thrown: under `mpirun` wrapped as `EveryProcessStop`, since every
    /// process reaches it at the same step.
    func together(_ error: Error) -> Error { distributed == nil ? error : EveryProcessStop(error: error) }

    static func applyThreads(_ threads: Int) {
        Parallel.threadCount = threads > 0 ? threads : System.coreCount
    }

    /// The one-line header, then `lines` (the resume line, warnings), each printed and written to
    /// `run.txt` before the system report.
    func writeHeader(configSource: String, lines: [String] = []) throws {
        let report = SystemReport.current()
        let header =
            "qklab \(QKLabVersion.string) | OpenBLAS \(report.openBLASCore), libxsmm \(report.libxsmmTarget ?? "none"), \(counted(report.kernelThreads, "thread")), "
            + "\(counted(dataParallel.shardCount, "batch shard"))\(processesNote) | \(model.parameters.scalarCount) parameters (\(model.parameters.nonEmbeddingScalarCount) non-embedding) | "
            + "bigram loss \(String(format: "%.4f", bigramLoss)) | config \(configSource) | run \(folder.url.path)"
        for line in [header] + lines { progress.message(line) }
        let facts = [header] + lines + ["corpus: \(config.data.path)\(relativeNote), \(corpus.fingerprint)"]
        try writeSynced(
            Data((facts.joined(separator: "\n") + "\n\n" + report.description + "\n").utf8), to: folder.info)
    }

    /// `, 2 processes (host-a, host-b)` under `mpirun`.
    var processesNote: String {
        distributed.map {
            ", \(counted($0.job.processCount, "process", plural: "processes")) (\($0.job.hosts.joined(separator: ", ")))"
        } ?? ""
    }

    /// The corpus line of config.toml.
    var corpusNote: String {
        "corpus \(config.data.path)\(relativeNote): \(corpus.fingerprint) (checked on --resume and eval)"
    }

    /// " (relative to /work/project)" for a relative `data.path`.
    var relativeNote: String {
        config.data.path.hasPrefix("/") ? "" : " (relative to \(corpusOrigin.startFolder))"
    }
}
