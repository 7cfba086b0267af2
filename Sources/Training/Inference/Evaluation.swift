import Autograd
import Transformer

/// Validation loss: mean cross-entropy over fixed batches, with no tape recorded.
public enum Evaluation {
    public static func meanCrossEntropy(model: TransformerModel, batches: [Batch]) -> Double {
        Tape.withoutGradients {
            let total = batches.reduce(0.0) { sum, batch in
                sum
                    + Double(
                        model.loss(
                            tokens: batch.inputs, targets: batch.targets, batch: batch.batchSize, length: batch.length
                        ).crossEntropy)
            }
            return total / Double(batches.count)
        }
    }
}
