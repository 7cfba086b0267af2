import Autograd
import Foundation

/// QKLab's version.
public enum QKLabVersion {
    public static let string = "0.1.0"
}

/// The facts that explain a run's speed: versions, BLAS kernel, threads.
public struct SystemReport: CustomStringConvertible {
    public var qklabVersion: String
    public var swiftVersion: String
    public var openBLASConfiguration: String
    public var openBLASCore: String
    /// Where the core choice came from: the user's OPENBLAS_CORETYPE, or OpenBLAS's own detection.
    public var coreSource: String
    public var blasThreads: Int
    public var kernelThreads: Int

    public static func current() -> SystemReport {
        let userCore = ProcessInfo.processInfo.environment[OpenBLASKernel.environmentKey]
        return SystemReport(
            qklabVersion: QKLabVersion.string,
            swiftVersion: compilerVersion,
            openBLASConfiguration: BLAS.configuration,
            openBLASCore: BLAS.coreName,
            coreSource: userCore.map { "\(OpenBLASKernel.environmentKey)=\($0)" } ?? "detected by OpenBLAS",
            blasThreads: BLAS.threadCount,
            kernelThreads: Parallel.threadCount)
    }

    public var description: String {
        """
        QKLab \(qklabVersion) (Swift \(swiftVersion))
        OpenBLAS:  \(openBLASConfiguration)
        core:      \(openBLASCore) (\(coreSource))
        threads:   \(blasThreads) BLAS, \(kernelThreads) for QKLab's own kernels and batch shards (a training
                   step runs as \(kernelThreads) shards; losses depend on the count in their last bits)
        """
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
