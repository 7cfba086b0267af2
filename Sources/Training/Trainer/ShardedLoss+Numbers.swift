import Autograd
import Transformer

/// A shard's losses and telemetry sums as a fixed-length list of doubles, to exchange between
/// processes. Every value is exact in a double (floats, and counts below 2⁵³), so a shard's
/// `ShardedLoss` decodes bit for bit and the shards combine in shard order as on one process.
///
/// Layout for L layers of H query heads: `[loss, crossEntropy, measured (0/1), attnLogitMax (L),
/// attnScoreMax (L·H, layer by layer), per layer (entropyRows, querySquares, keySquares, queryCount,
/// keyCount, cappedLogitMax, the largest logit's pair (logit, cosine, queryNorm, keyNorm),
/// blockOutputSquares, blockOutputCount, entropySums (H)),
/// outputLogitMax, logSumExpSum, outputRows, logitSum, logitCount]`; the telemetry part is zeros when not measured.
extension ShardedLoss {
    /// Doubles per shard for `layers` layers of `heads` query heads.
    static func numberCount(layers: Int, heads: Int) -> Int {
        3 + layers + layers * heads + layers * (perLayer + heads) + 5
    }

    /// Doubles per layer besides its H entropy sums.
    private static let perLayer = 12

    /// Writes the layout into `numbers` (`numberCount` doubles).
    func write(into numbers: UnsafeMutableBufferPointer<Double>, heads: Int) {
        var values: [Double] =
            [Double(loss), Double(crossEntropy), telemetry == nil ? 0 : 1] + attentionLogitMax.map(Double.init)
            + attentionScoreMax.flatMap { $0.map(Double.init) }
        for layer in 0..<attentionLogitMax.count {
            let s = telemetry?.layers[layer], pair = s?.largestLogitPair, block = telemetry?.blockOutputs[layer]
            precondition(
                (s?.entropySums.count ?? heads) == heads, "telemetry of \(s!.entropySums.count) heads, not \(heads)")
            values +=
                [
                    Double(s?.entropyRows ?? 0), s?.querySquares ?? 0, s?.keySquares ?? 0,
                    Double(s?.queryCount ?? 0), Double(s?.keyCount ?? 0), Double(s?.cappedLogitMax ?? 0),
                    Double(pair?.logit ?? 0), pair?.cosine ?? 0, pair?.queryNorm ?? 0, pair?.keyNorm ?? 0,
                    block?.squares ?? 0, Double(block?.count ?? 0),
                ] + (s?.entropySums ?? Array(repeating: 0, count: heads))
        }
        let output = telemetry?.output
        values += [
            Double(output?.logitMax ?? 0), output?.logSumExpSum ?? 0, Double(output?.rows ?? 0),
            output?.logitSum ?? 0, Double(output?.logitCount ?? 0),
        ]
        precondition(values.count == numbers.count, "\(values.count) numbers for a buffer of \(numbers.count)")
        _ = numbers.update(fromContentsOf: values)
    }

    /// Reads a shard's losses back from `numbers` (written by `write`).
    init(numbers: ArraySlice<Double>, layers: Int, heads: Int) {
        var next = numbers.startIndex
        func take(_ count: Int) -> ArraySlice<Double> {
            defer { next += count }
            return numbers[next..<(next + count)]
        }
        let head = take(3), logitMax = take(layers).map(Float.init)
        let scoreMax = (0..<layers).map { _ in take(heads).map(Float.init) }
        let perLayer = (0..<layers).map { _ in
            let s = Array(take(Self.perLayer)), entropySums = Array(take(heads))
            let pair = LargestLogitPair(logit: Float(s[6]), cosine: s[7], queryNorm: s[8], keyNorm: s[9])
            return (
                AttentionStatistics(
                    entropySums: entropySums, entropyRows: Int(s[0]), querySquares: s[1], keySquares: s[2],
                    queryCount: Int(s[3]), keyCount: Int(s[4]), cappedLogitMax: Float(s[5]), largestLogitPair: pair),
                BlockOutputStatistics(squares: s[10], count: Int(s[11]))
            )
        }
        let o = Array(take(5))
        let telemetry =
            head[head.startIndex + 2] == 0
            ? nil
            : ModelTelemetry(
                layers: perLayer.map(\.0), blockOutputs: perLayer.map(\.1),
                output: OutputStatistics(
                    logitMax: Float(o[0]), logSumExpSum: o[1], rows: Int(o[2]), logitSum: o[3], logitCount: Int(o[4])))
        self.init(
            loss: Float(head[head.startIndex]), crossEntropy: Float(head[head.startIndex + 1]),
            attentionLogitMax: logitMax, attentionScoreMax: scoreMax, telemetry: telemetry)
    }
}
