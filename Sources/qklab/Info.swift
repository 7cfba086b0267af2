import ArgumentParser
import Autograd
import Training

/// `qklab info`: versions, the OpenBLAS kernel, the libxsmm target, threads and a measured sgemm speed.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show versions, the OpenBLAS kernel and libxsmm target in use and a measured sgemm speed.")

    @Option(help: "Matrix size of the sgemm measurement (up to 418, libxsmm computes it: see docs/speed.md).")
    var size = 1024

    @Option(help: "Seconds to spend measuring sgemm.")
    var seconds = 1.5

    func validate() throws {
        if !(1...16384).contains(size) { throw ValidationError("--size must be between 1 and 16384 (got \(size))") }
        if !(seconds > 0 && seconds <= 600) { throw ValidationError("--seconds must be in (0, 600] (got \(seconds))") }
    }

    func run() throws {
        print(SystemReport.current())
        let gflops = SgemmBenchmark.measure(size: size, seconds: seconds)
        print("sgemm \(size)²:  \(String(format: "%.1f", gflops)) GFLOP/s")
    }
}
