import ArgumentParser
import Autograd
import Foundation
import Training

/// `qklab`: the command-line face of QKLab. Commands parse options and call `Training`.
@main
struct QKLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qklab",
        abstract: "Train tiny decoder-only transformers and watch what QK-Norm does to stability.",
        version: QKLabVersion.string,
        subcommands: [Train.self, Sample.self, Eval.self, Compare.self, Sweep.self, ExportHF.self, Logits.self, Info.self]
    )

    static func main() {
        OpenBLASKernel.reexecWithBestKernelIfNeeded()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
