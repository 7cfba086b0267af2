import Formats

/// Qwen3-Next's attention output gate, which QKLab's attention lacks, neutralised exactly.
///
/// `Qwen3NextAttention` projects each head to a query and a gate, `q_proj` `[H·2·Dh, d]` laid
/// out per head as `[query_h ; gate_h]` (`view(…, H, 2·Dh)` then `chunk(2)`), and multiplies the
/// attention output by `sigmoid(gate)` before `o_proj`. With every gate row zero the gate is
/// `sigmoid(0) = 0.5` exactly, and `o_proj` doubled (exact in binary floating point) undoes it:
/// `(2·W_o)·(0.5·y) = W_o·y` bit for bit in the products' inputs. An export writes that; an import
/// takes the gate rows only when they are all zero (otherwise the network has a live gate
/// QKLab cannot compute) and halves `o_proj` back.
enum AttentionOutputGate {
    /// The Hugging Face tensors of QKLab's `tensors`: `q_proj` with zero gate rows, `o_proj` doubled.
    static func exported(_ tensors: [NamedTensor], heads: Int, headDim: Int) -> [NamedTensor] {
        tensors.map { tensor in
            var tensor = tensor
            if tensor.name.hasSuffix("self_attn.q_proj.weight") {
                let width = tensor.shape[1], headRows = headDim * width
                tensor.values = (0..<heads).flatMap { head in
                    tensor.values[(head * headRows)..<((head + 1) * headRows)] + [Float](repeating: 0, count: headRows)
                }
                tensor.shape = [2 * heads * headDim, width]
            } else if tensor.name.hasSuffix("self_attn.o_proj.weight") {
                tensor.values = tensor.values.map { 2 * $0 }
            }
            return tensor
        }
    }

    /// QKLab's tensors from a Qwen3-Next file's (`source` names it in errors): the query rows of
    /// `q_proj` and half of `o_proj`. Throws when a gate row is not zero or `q_proj` has not the
    /// gated shape.
    static func imported(_ tensors: [NamedTensor], heads: Int, headDim: Int, source: String) throws -> [NamedTensor] {
        try tensors.map { tensor in
            var tensor = tensor
            if tensor.name.hasSuffix("self_attn.q_proj.weight") {
                guard tensor.shape.count == 2 && tensor.shape[0] == 2 * heads * headDim else {
                    throw HuggingFaceError(
                        "\(source): \(tensor.name) has shape \(tensor.shape); Qwen3-Next's gated q_proj has \(2 * heads * headDim) rows"
                    )
                }
                let width = tensor.shape[1], headRows = headDim * width
                var queries: [Float] = []
                for head in 0..<heads {
                    let start = 2 * head * headRows
                    queries += tensor.values[start..<(start + headRows)]
                    if tensor.values[(start + headRows)..<(start + 2 * headRows)].contains(where: { $0 != 0 }) {
                        throw HuggingFaceError(
                            "\(source): \(tensor.name) has a nonzero attention output gate (head \(head)); "
                                + "QKLab's attention has no gate, so only an export with zero gate rows can be read")
                    }
                }
                tensor.values = queries
                tensor.shape = [heads * headDim, width]
            } else if tensor.name.hasSuffix("self_attn.o_proj.weight") {
                tensor.values = tensor.values.map { $0 / 2 }
            }
            return tensor
        }
    }
}
