import ArgumentParser
import Foundation
import Training

/// `qklab eval`: validation loss of the latest checkpoint.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validation loss of a run's latest checkpoint on its fixed evaluation windows.")

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Option(
        help: ArgumentHelp(
            "The run's corpus, when the run cannot find it (moved or renamed): it must be the same bytes the run trained on.",
            valueName: "file"))
    var corpus: String?

    func run() throws {
        let trained = try TrainedModel(path: path)
        let loss = try trained.validationLoss(corpus: corpus)
        print("\(trained.checkpoint.lastPathComponent): val_loss \(String(format: "%.4f", loss))")
    }
}
