import Foundation

/// Cross-entropy from logits, fused with log-sum-exp and the optional z-loss.
///
/// For `N` rows of `V` logits and integer targets, with `lse_n = log Σ_v exp(x_nv)` (computed
/// max-subtracted, so logits of 1e4 do not overflow):
///
///     ce   = mean_n (lse_n − x_n,target)
///     loss = ce + z · mean_n lse_n²
///
/// Pullback, with `p = softmax(x_n)`:  `dx_n += dLoss/N · ((p − onehot(target)) + 2z · lse_n · p)`.
public struct CrossEntropyResult {
    /// The objective (`ce + z · mean lse²`), a scalar tensor to call `backward()` on.
    public let loss: Tensor
    /// Plain mean cross-entropy (equal to `loss` when z = 0).
    public let crossEntropy: Float
    /// `mean lse²`, the z-loss term before its coefficient.
    public let meanSquaredLogSumExp: Float
    /// The output-logit telemetry, when the call was asked to measure it (nil otherwise).
    public let statistics: OutputStatistics?
}

/// Output-logit telemetry (docs/metrics.md, "Stability telemetry"), as sums and maxima that batch
/// shards combine exactly: the largest |logit| (`output_logit_max`, output-logit divergence) and
/// Σ log Z over the rows (`output_lse_mean`, the drift z-loss penalises; Wortsman et al. 2023 §3.1.2),
/// and Σ of the logits themselves (`output_logit_mean`, the drift of Wortsman et al. 2023 Fig. 4).
public struct OutputStatistics: Equatable {
    /// Largest |logit| over every row and vocabulary entry (NaN if any logit is NaN).
    public var logitMax: Float
    /// Σ over rows of `lse_n = log Σ_v exp(x_nv)`.
    public var logSumExpSum: Double
    public var rows: Int
    /// Σ over every row and vocabulary entry of `x_nv` (`rows · V` logits).
    public var logitSum: Double
    /// `rows · V`, the number of logits summed in `logitSum`.
    public var logitCount: Int

    public init(logitMax: Float, logSumExpSum: Double, rows: Int, logitSum: Double, logitCount: Int) {
        (self.logitMax, self.logSumExpSum, self.rows) = (logitMax, logSumExpSum, rows)
        (self.logitSum, self.logitCount) = (logitSum, logitCount)
    }

    /// Two shards' statistics (`self` first: callers add shards in shard order).
    public func merged(with other: OutputStatistics) -> OutputStatistics {
        OutputStatistics(
            logitMax: nanPropagatingMax(logitMax, other.logitMax),
            logSumExpSum: logSumExpSum + other.logSumExpSum, rows: rows + other.rows,
            logitSum: logitSum + other.logitSum, logitCount: logitCount + other.logitCount)
    }

    /// `output_lse_mean`: the mean of log Z over rows.
    public var logSumExpMean: Double { logSumExpSum / Double(max(1, rows)) }
    /// `output_logit_mean`: the mean of the logits over rows and vocabulary entries.
    public var logitMean: Double { logitSum / Double(max(1, logitCount)) }
}

/// Cross-entropy of `logits [N, V]` (or `[B, T, V]`) against `targets` (N ids), plus z-loss;
/// with `measuring`, also the `OutputStatistics` of the logits.
public func crossEntropy(logits: Tensor, targets: [Int32], zLoss: Float = 0, measuring: Bool = false)
    -> CrossEntropyResult
{
    let started = OpProfile.begin()
    defer { OpProfile.end(.loss, started) }
    let vocabulary = logits.shape.last!, rows = logits.count / vocabulary
    precondition(targets.count == rows, "\(targets.count) targets for logits \(logits.shape)")
    var logSumExp = [Float](repeating: 0, count: rows)
    var rowLoss = [Float](repeating: 0, count: rows)
    let x = logits.data
    logSumExp.withUnsafeMutableBufferPointer { lse in
        rowLoss.withUnsafeMutableBufferPointer { losses in
            Parallel.forEachChunk(rows, grain: max(1, 8192 / vocabulary)) { range in
                for row in range {
                    let target = Int(targets[row])
                    precondition(
                        target >= 0 && target < vocabulary, "target \(target) outside vocabulary of \(vocabulary)")
                    let logitsRow = x + row * vocabulary
                    lse[row] = rowLogSumExp(logitsRow, count: vocabulary)
                    losses[row] = lse[row] - logitsRow[target]
                }
            }
        }
    }
    var ceTotal = 0.0, zTotal = 0.0
    for row in 0..<rows {
        ceTotal += Double(rowLoss[row])
        zTotal += Double(logSumExp[row]) * Double(logSumExp[row])
    }
    let statistics =
        measuring
        ? OutputStatistics(
            logitMax: largestMagnitude(x, count: logits.count),
            logSumExpSum: logSumExp.reduce(0) { $0 + Double($1) }, rows: rows,
            logitSum: rowSums(x, rows: rows, length: vocabulary), logitCount: logits.count) : nil
    let crossEntropy = Float(ceTotal / Double(rows)), meanSquaredLSE = Float(zTotal / Double(rows))
    let loss = Tensor(shape: [], values: [crossEntropy + zLoss * meanSquaredLSE])
    if Tape.needsGradient(logits) {
        Tape.record(loss, .loss) { dLoss in
            let dx = logits.gradData(), perRow = dLoss[0] / Float(rows)
            Parallel.forEachChunk(rows, grain: max(1, 8192 / vocabulary)) { range in
                for row in range {
                    let logitsRow = x + row * vocabulary, dRow = dx + row * vocabulary
                    let lse = logSumExp[row]
                    let softmaxScale = perRow * (1 + 2 * zLoss * lse)
                    forEachVector(0..<vocabulary) { j, lanes in
                        store(
                            load(dRow, j, lanes) + softmaxScale * exp(load(logitsRow, j, lanes) - lse), dRow, j, lanes)
                    }
                    dRow[Int(targets[row])] -= perRow
                }
            }
        }
    }
    return CrossEntropyResult(
        loss: loss, crossEntropy: crossEntropy, meanSquaredLogSumExp: meanSquaredLSE,
        statistics: statistics)
}

/// The largest |x_i| of `count` floats, NaN if any is NaN.
func largestMagnitude(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let signless = SIMD16<UInt32>(repeating: 0x7FFF_FFFF)
    var largest = Vector(), magnitudeSum = Vector()
    forEachVector(0..<count) { i, lanes in
        let magnitude = masked(load(x, i, lanes), signless)
        largest = lanewiseMax(largest, magnitude)
        magnitudeSum += magnitude
    }
    return magnitudeSum.sum().isNaN ? .nan : largestLane(largest)
}

/// `Σ x` over `rows` rows of `length` floats: each row in 16-lane Float partial sums, the rows
/// added in Double in order (a fixed order, so the result never depends on threads).
func rowSums(_ x: UnsafePointer<Float>, rows: Int, length: Int) -> Double {
    var total = 0.0
    for row in 0..<rows {
        var sum = Vector()
        forEachVector(0..<length) { j, lanes in sum += load(x + row * length, j, lanes) }
        total += Double(sum.sum())
    }
    return total
}

/// `log Σ exp(x_i)`, max-subtracted.
@inline(__always)
func rowLogSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
    let (maximum, sum) = shiftedExponentialSum(x, count: count)
    return maximum + log(sum)
}
