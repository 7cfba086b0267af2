import Transformer

extension Array where Element == NamedParameter {
    /// The non-embedding parameter count of Kaplan et al. 2020 and Wortsman et al. 2023
    /// (arXiv 2309.14322), the x axis of their scaling plots: every scalar except the token
    /// embedding, the learned positions and an untied output head — the decoder layers (attention,
    /// QK-Norm, MLP, block norms) plus the final norm. A tied head is the embedding, so it is
    /// never counted.
    public var nonEmbeddingScalarCount: Int {
        filter { !Self.embeddingNames.contains($0.name) }.scalarCount
    }

    /// docs/spec/model.md's names of the tensors `nonEmbeddingScalarCount` leaves out.
    static var embeddingNames: Set<String> {
        ["model.embed_tokens.weight", "model.embed_positions.weight", "lm_head.weight"]
    }
}
