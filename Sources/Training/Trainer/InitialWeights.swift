import Transformer

/// Weights a new run starts from instead of its initialisation (`qklab train --init-from`).
public struct InitialWeights {
    /// Where they come from, for the run's header (a folder's path).
    public let source: String
    /// Copies the weights into the model, or throws one line saying why they do not fit its
    /// config or the corpus's vocabulary; nothing is copied then.
    public let load: (TransformerModel, CharTokenizer) throws -> Void

    public init(source: String, load: @escaping (TransformerModel, CharTokenizer) throws -> Void) {
        (self.source, self.load) = (source, load)
    }
}
