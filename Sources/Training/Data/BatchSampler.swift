import Autograd

/// A batch of `B` windows: `inputs[b, t] = tokens[offset_b + t]`, `targets` shifted by one.
public struct Batch {
    public let inputs: [Int32]  // [B, T]
    public let targets: [Int32]  // [B, T]
    /// Start of each window in its split (for diagnostics and replay).
    public let offsets: [Int]
    public let batchSize: Int
    public let length: Int

    /// The windows of `tokens` starting at `offsets`, each `length + 1` tokens long.
    public init(tokens: [Int32], offsets: [Int], length: Int) {
        var inputs: [Int32] = [], targets: [Int32] = []
        inputs.reserveCapacity(offsets.count * length)
        targets.reserveCapacity(offsets.count * length)
        for offset in offsets {
            inputs.append(contentsOf: tokens[offset..<(offset + length)])
            targets.append(contentsOf: tokens[(offset + 1)..<(offset + length + 1)])
        }
        self.inputs = inputs
        self.targets = targets
        self.offsets = offsets
        self.batchSize = offsets.count
        self.length = length
    }
}

/// Draws training windows at random from the run's own seeded generator; its state is saved in
/// checkpoints, so a resumed run draws the same batches.
public struct BatchSampler: Codable, Equatable {
    public var random: SeededRandom

    public init(seed: UInt64) { random = SeededRandom(seed: seed) }

    /// `batchSize` uniformly random window starts in `tokens`.
    public mutating func next(from tokens: [Int32], batchSize: Int, length: Int) -> Batch {
        let starts = tokens.count - length  // last start leaves room for the shifted target
        let offsets = (0..<batchSize).map { _ in random.nextInt(below: starts) }
        return Batch(tokens: tokens, offsets: offsets, length: length)
    }

    /// The fixed evaluation windows: `count` batches spread evenly over `tokens`, the same at
    /// every evaluation, so validation curves are smooth and runs comparable.
    public static func evaluationBatches(of tokens: [Int32], count: Int, batchSize: Int, length: Int) -> [Batch] {
        let starts = tokens.count - length
        let windows = count * batchSize
        return (0..<count).map { batch in
            let offsets = (0..<batchSize).map { i in ((batch * batchSize + i) * starts) / windows }
            return Batch(tokens: tokens, offsets: offsets, length: length)
        }
    }
}
