import ArgumentParser
import Foundation
import HuggingFace
import Training

/// `qklab export-hf`: a checkpoint as a Hugging Face model folder.
struct ExportHF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-hf",
        abstract: "Write a Hugging Face model folder (config.json, model.safetensors, vocab.json) from a run's latest checkpoint.",
        discussion: "The layout decides the class: pre + head → Qwen3ForCausalLM, pre + off → LlamaForCausalLM, post + full → Olmo2ForCausalLM (rope and swiglu only).")

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Argument(help: "Output folder (created if missing).")
    var output: String

    func run() throws {
        let trained = try TrainedModel(path: path)
        let config = try HuggingFaceExport.write(trained, to: URL(fileURLWithPath: output))
        print("\(trained.checkpoint.path) → \(output) (\(config.architecture.className))")
    }
}
