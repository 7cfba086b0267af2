import ArgumentParser
import Autograd
import Training

/// `qklab info`: versions, the OpenBLAS kernel, threads and a measured sgemm speed.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show versions, the OpenBLAS kernel in use and a measured sgemm speed.")

    @Option(help: "Matrix size of the sgemm measurement.")
    var size = 1024

    @Option(help: "Seconds to spend measuring sgemm.")
    var seconds = 1.5

    func validate() throws {
        if !(1...16384).contains(size) { throw ValidationError("--size must be between 1 and 16384 (got \(size))") }
        if !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be in (0, 600] (got \(seconds))") }
    }

    func run() throws {
        print(Self.text(SystemReport.current()))
        let gflops = SgemmBenchmark.measure(size: size, seconds: seconds)
        print("sgemm \(size)²:  \(String(format: "%.1f", gflops)) GFLOP/s")
    }

    /// The report, and what the shard count and the kernel do to a run's numbers (measured: model
    /// S on tiny Shakespeare, 200 steps on 1 and on 2 shards; see the README's "Batch shards").
    static func text(_ report: SystemReport) -> String {
        """
        QKLab \(report.qklabVersion) (Swift \(report.swiftVersion))
        OpenBLAS:  \(report.openBLASConfiguration)
        core:      \(report.openBLASCore) (\(report.coreSource))
        threads:   \(report.blasThreads) BLAS, \(report.kernelThreads) for QKLab's own kernels and batch shards
        numbers:   the same config, shard count and OpenBLAS kernel give the same numbers, bit for bit.
                   Another shard count (or kernel) rounds differently: the losses differ in their last
                   bits at first, and training amplifies the difference, the more the higher the learning
                   rate (model S, 200 steps, 1 vs 2 shards: 1e-7 of the loss at lr 1e-3, 0.4–2% at 1e-2)
        """
    }
}
