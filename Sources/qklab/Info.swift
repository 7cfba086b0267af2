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

    func run() throws {
        print(SystemReport.current().description)
        let gflops = SgemmBenchmark.measure(size: size, seconds: seconds)
        print("sgemm \(size)²:  \(String(format: "%.1f", gflops)) GFLOP/s")
    }
}
