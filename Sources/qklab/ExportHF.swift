import ArgumentParser
import Formats
import Foundation
import HuggingFace
import Training

/// `qklab export-hf`: a checkpoint as a Hugging Face model folder.
struct ExportHF: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-hf",
        abstract:
            "Write a Hugging Face model folder (config.json, model.safetensors, vocab.json) from a run's latest checkpoint.",
        discussion:
            "The layout decides the class: pre + head → Qwen3ForCausalLM, pre + off → LlamaForCausalLM, post + full → Olmo2ForCausalLM "
            + "(or Olmo3ForCausalLM with --class), sandwich + head + offset + embed_scale → Gemma3ForCausalLM, pre + head + offset → "
            + "Qwen3NextForCausalLM (dense; any rope_fraction), pre + head or off + plain (any rope_fraction, attention_bias) → "
            + "Glm4MoeForCausalLM (GLM-4.5, dense layers; or Sarvam 30B with --class sarvam_moe), pre + full + plain (any rope_fraction) → "
            + "MiniMaxM2ForCausalLM (one expert); all with rope and a gated MLP. See docs/families.md."
    )

    @Argument(help: "Run folder or checkpoint folder.")
    var path: String

    @Argument(
        help:
            "Output folder: new, empty, or an earlier export (whose files are replaced); a folder holding other files is refused."
    )
    var output: String

    @Option(
        name: .customLong("class"),
        help:
            "The Hugging Face class, when the layout has two (Olmo3ForCausalLM for the OLMo 2/3 layout, sarvam_moe for a GLM-4.5 layout with QK-Norm); by default the first that holds the layout."
    )
    var className: String?

    /// The class `--class` names; an unknown name is a usage error.
    func preferredClass() throws -> HuggingFaceArchitecture? {
        do {
            return try className.map(HuggingFaceArchitecture.init(named:))
        } catch {
            throw ValidationError("--class: \(error)")
        }
    }

    func validate() throws { _ = try preferredClass() }

    func run() throws {
        let folder = URL(fileURLWithPath: output).standardizedFileURL
        let preferred = try preferredClass()
        try Self.checkOutputFolder(folder)
        let trained = try TrainedModel(path: path)
        let config = try HuggingFaceExport.write(trained, to: folder, preferred: preferred)
        print("\(trained.checkpoint.path) → \(output) (\(config.architecture.name))")
    }

    /// export-hf never writes into a folder of someone else's files: the output must be new,
    /// empty, or an earlier export (the export's config.json, and nothing but the export's files,
    /// each as export-hf writes it: `HuggingFaceExport.isExportFile`), whose files it then replaces.
    static func checkOutputFolder(_ folder: URL) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw RunError("export folder \(folder.path) is a file, not a folder") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        } catch {
            throw RunError("cannot read export folder \(folder.path): \(describe(error))")
        }
        guard !names.isEmpty else { return }
        func isExportFile(_ name: String) -> Bool {
            HuggingFaceExport.isExportFile(folder.appendingPathComponent(name))
        }
        // Without the export's config.json nothing there can be told to be an export's.
        let foreign = isExportFile("config.json") ? names.filter { !isExportFile($0) } : names
        if foreign.isEmpty { return }  // an earlier export: replaced
        let shown =
            foreign.prefix(5).joined(separator: ", ") + (foreign.count > 5 ? " and \(foreign.count - 5) more" : "")
        throw RunError(
            "export folder \(folder.path) holds files export-hf did not write (\(shown)); export into a new or empty folder"
        )
    }
}
