import Autograd
import Foundation

/// QKLab's version.
public enum QKLabVersion {
    public static let string = "0.1.0"
}

/// The facts that explain a run's speed and its numbers: versions, BLAS kernel, threads, and what
/// decides the numbers (measured: model S on tiny Shakespeare, 200 steps on 1 and on 2 shards).
public struct SystemReport: CustomStringConvertible {
    public var qklabVersion: String
    public var swiftVersion: String
    public var openBLASConfiguration: String
    public var openBLASCore: String
    /// Where the core choice came from: the user's OPENBLAS_CORETYPE, or OpenBLAS's own detection.
    public var coreSource: String
    /// The instruction set libxsmm's kernels (products with a short inner dimension) are built for;
    /// nil in a build without libxsmm (not x86-64).
    public var libxsmmTarget: String?
    public var kernelThreads: Int

    public static func current() -> SystemReport {
        let userCore = ProcessInfo.processInfo.environment[OpenBLASKernel.environmentKey]
        return SystemReport(
            qklabVersion: QKLabVersion.string,
            swiftVersion: compilerVersion,
            openBLASConfiguration: BLAS.configuration,
            openBLASCore: BLAS.coreName,
            coreSource: userCore.map { "\(OpenBLASKernel.environmentKey)=\($0)" } ?? "detected by OpenBLAS",
            libxsmmTarget: SmallProducts.target,
            kernelThreads: Parallel.threadCount)
    }

    public var description: String {
        """
        QKLab \(qklabVersion) (Swift \(swiftVersion))
        OpenBLAS:  \(openBLASConfiguration)
        core:      \(openBLASCore) (\(coreSource))
        libxsmm:   \(libxsmmLine)
        threads:   \(kernelThreads), each computing its products on one thread; a run's batch shards
                   (train.shards) run on them, and threads never change a run's numbers
        numbers:   the same config, shard count and kernels (OpenBLAS's and libxsmm's) give the same
                   numbers, bit for bit.
                   Another shard count (or kernel) rounds differently: the losses differ in their last
                   bits at first, and training amplifies the difference, the more the higher the learning
                   rate (see docs/resume-and-determinism.md)
        """
    }

    private var libxsmmLine: String {
        libxsmmTarget.map { "kernels for \($0) (products with a short inner dimension; LIBXSMM_TARGET sets it)" }
            ?? "not in this build (x86-64 only): OpenBLAS computes every product"
    }

    /// The compiler that built this binary.
    static var compilerVersion: String {
        #if compiler(>=6.4)
            return "≥6.4"
        #elseif compiler(>=6.3)
            return "6.3"
        #elseif compiler(>=6.2)
            return "6.2"
        #else
            return "<6.2"
        #endif
    }
}
