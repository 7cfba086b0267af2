import Formats

/// MiniMax-M2's mixture-of-experts block with one expert: QKLab's SwiGLU MLP exactly.
///
/// `MiniMaxM2SparseMoeBlock` (transformers 5.25) routes each token by `sigmoid(x·W_rᵀ)` plus
/// `e_score_correction_bias` to its top `num_experts_per_tok` experts and weights each by its
/// sigmoid score over their sum. With one expert and top-1 routing the weight is s/s = 1 exactly
/// (a zero router row makes s = sigmoid(0) = 0.5, so it can never underflow to 0/0), and the
/// expert is `down(silu(gate·x) ⊙ up·x)`: the block is the dense SwiGLU, bit for bit in the
/// products' inputs. The expert's weights come in two namings, both read:
///
///     released checkpoints (export)                  transformers in memory
///     block_sparse_moe.gate.weight              [1, d]    mlp.gate.weight                  (router, zero)
///     block_sparse_moe.e_score_correction_bias  [1]       mlp.e_score_correction_bias      (zero)
///     block_sparse_moe.experts.0.w1.weight      [F, d]    mlp.experts.gate_up_proj [1, 2F, d] = [w1 ; w3]
///     block_sparse_moe.experts.0.w3.weight      [F, d]
///     block_sparse_moe.experts.0.w2.weight      [d, F]    mlp.experts.down_proj    [1, d, F]
///
/// transformers maps the released names onto its own on load (`conversion_mapping.py`, the
/// `mixtral` rules) and `save_pretrained` writes back the naming it loaded.
enum SingleExpert {
    /// The released checkpoints' tensors of QKLab's `tensors`: each layer's `mlp.gate_proj`,
    /// `up_proj` and `down_proj` become expert 0's w1, w3 and w2, after a zero router row and a
    /// zero correction bias, in the place of gate_proj.
    static func exported(_ tensors: [NamedTensor]) -> [NamedTensor] {
        tensors.flatMap { tensor -> [NamedTensor] in
            guard let (layer, projection) = mlpProjection(tensor.name) else { return [tensor] }
            let block = "\(layer).block_sparse_moe"
            let expert = NamedTensor(
                name: "\(block).experts.0.\(releasedName[projection]!).weight", shape: tensor.shape,
                values: tensor.values)
            guard projection == "gate_proj" else { return [expert] }
            let width = tensor.shape[1]
            return [
                NamedTensor(
                    name: "\(block).gate.weight", shape: [1, width], values: [Float](repeating: 0, count: width)),
                NamedTensor(name: "\(block).e_score_correction_bias", shape: [1], values: [0]), expert,
            ]
        }
    }

    /// QKLab's tensors from a MiniMax-M2 file's (either naming; `source` names the file in
    /// errors): the rest as they are. Throws, naming the tensor, for a router row that is not
    /// zero, an expert other than 0, or a fused tensor of another shape.
    static func imported(_ tensors: [NamedTensor], source: String) throws -> [NamedTensor] {
        var result: [NamedTensor] = []
        for tensor in tensors {
            guard let (layer, part) = expertPart(tensor.name) else {
                result.append(tensor)
                continue
            }
            switch part {
            case "gate.weight":
                if tensor.values.contains(where: { $0 != 0 }) {
                    throw HuggingFaceError(
                        "\(source): \(tensor.name) (the router) is not zero; QKLab reads only MiniMax-M2's one-expert "
                            + "block with a zero router row, which is the dense SwiGLU exactly")
                }
            case "e_score_correction_bias":
                break  // shifts only the choice among experts, and there is one
            case "experts.0.w1.weight", "experts.0.w3.weight", "experts.0.w2.weight":
                let qklab = releasedName.first { "experts.0.\($0.value).weight" == part }!.key
                result.append(
                    NamedTensor(name: "\(layer).mlp.\(qklab).weight", shape: tensor.shape, values: tensor.values))
            case "experts.gate_up_proj":
                guard tensor.shape.count == 3 && tensor.shape[0] == 1 && tensor.shape[1] % 2 == 0 else {
                    throw HuggingFaceError(
                        "\(source): \(tensor.name) has shape \(tensor.shape); QKLab reads one expert, [1, 2·F, d]")
                }
                let (rows, width) = (tensor.shape[1] / 2, tensor.shape[2])
                for (index, name) in ["gate_proj", "up_proj"].enumerated() {
                    let values = tensor.values[(index * rows * width)..<((index + 1) * rows * width)]
                    result.append(
                        NamedTensor(name: "\(layer).mlp.\(name).weight", shape: [rows, width], values: Array(values)))
                }
            case "experts.down_proj":
                guard tensor.shape.count == 3 && tensor.shape[0] == 1 else {
                    throw HuggingFaceError(
                        "\(source): \(tensor.name) has shape \(tensor.shape); QKLab reads one expert, [1, d, F]")
                }
                result.append(
                    NamedTensor(
                        name: "\(layer).mlp.down_proj.weight", shape: Array(tensor.shape.dropFirst()),
                        values: tensor.values))
            default:
                throw HuggingFaceError(
                    "\(source): \(tensor.name) belongs to an expert QKLab does not have (it reads MiniMax-M2 with one expert)"
                )
            }
        }
        return result
    }

    /// QKLab's MLP projections and the released checkpoints' names for them.
    static let releasedName = ["gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"]

    /// (`model.layers.i`, `gate_proj`) for QKLab's `model.layers.i.mlp.gate_proj.weight` and its
    /// up and down projections; nil for every other name.
    static func mlpProjection(_ name: String) -> (layer: String, projection: String)? {
        let parts = name.split(separator: ".").map(String.init)
        guard parts.count == 6, parts[0] == "model", parts[1] == "layers", parts[3] == "mlp", parts[5] == "weight",
            releasedName[parts[4]] != nil
        else { return nil }
        return ("model.layers.\(parts[2])", parts[4])
    }

    /// (`model.layers.i`, the rest) for a tensor of layer i's MoE block in either naming
    /// (`block_sparse_moe.…` or `mlp.…` other than QKLab's own projections); nil otherwise.
    static func expertPart(_ name: String) -> (layer: String, part: String)? {
        let parts = name.split(separator: ".", maxSplits: 4).map(String.init)
        guard parts.count == 5, parts[0] == "model", parts[1] == "layers",
            parts[3] == "block_sparse_moe" || (parts[3] == "mlp" && mlpProjection(name) == nil)
        else { return nil }
        return ("model.layers.\(parts[2])", parts[4])
    }
}
