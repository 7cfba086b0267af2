import Formats
import Foundation

/// A forecast of the attention-logit instability from smaller models (Wortsman et al. 2023,
/// §3.4 and Fig. 9): from a finished sweep over model sizes, per line (the variant without its
/// size) and learning rate, the max attention logit at one step is fitted against model size and
/// extrapolated to a size that was not trained.
///
/// Fit space: y = log10(max attention logit at `step`), x = log10(non-embedding parameters);
/// least squares over every point (each seed one observation), a quadratic in x (the forecast) and
/// a line in x (the second column). Two logits: layer 0's (element 0 of `attn_logit_max`, the
/// layer the paper reports) and the largest over layers. A forecast above `threshold` (the paper
/// reads 1e4 as the logit beyond which runs diverged, §3.1.1) is flagged. The target size is each
/// line's own: a line's settings (QK-Norm's weights, say) can change its parameter count.
public struct LogitForecast {
    /// One line and learning rate.
    public struct Row: Equatable {
        public let line: String
        public let learningRate: Double
        /// The non-embedding parameter count forecast for.
        public let targetParameters: Int
        /// The distinct non-embedding parameter counts fitted.
        public let sizes: [Int]
        public let layer0: Fit?
        public let allLayers: Fit?
    }

    /// The forecasts of one logit at the target size; nil fields where a fit has too few sizes.
    public struct Fit: Equatable {
        public let quadratic: Double?
        public let linear: Double?
    }

    public let step: Int
    public let threshold: Double
    public let rows: [Row]
    /// Points left out: not finished, no parameter count, or no finite logit at `step`.
    public let leftOut: [String]

    /// - Parameters:
    ///   - targetParameters: the non-embedding parameter count to forecast for, given one point of
    ///     the line (its size settings to be replaced by the target's).
    /// - Throws: `RunError` in one line when the sweep has no size axis, no point logged `step`,
    ///   or fewer than three sizes have a logit at `step`; what `targetParameters` throws.
    public init(
        runner: SweepRunner, step: Int, targetParameters: (SweepPlan.Point) throws -> Int, threshold: Double = 1e4
    ) throws {
        let points = runner.plan.points
        guard points.contains(where: { !$0.size.isEmpty }) else {
            throw RunError(
                "sweep \(runner.plan.output.path): the grid has no size axis (no model-shape key varies), so there is no model size to fit the logit against"
            )
        }
        var observations: [(point: SweepPlan.Point, parameters: Int, layer0: Double?, all: Double?)] = []
        var leftOut: [String] = []
        for point in points {
            let history = try? RunHistory(folder: runner.folder(of: point).url)
            guard let history, let line = history.training.first(where: { $0.step == step }) else {
                leftOut.append("\(point.name) (no line of step \(step))")
                continue
            }
            guard let parameters = RunFacts(folder: runner.folder(of: point)).nonEmbeddingParameters else {
                leftOut.append("\(point.name) (no non_embedding_parameters in its step-0 line)")
                continue
            }
            observations.append((point, parameters, line.attnLogitMax.first ?? nil, line.maxAttnLogit?.value))
        }
        guard !observations.isEmpty else {
            throw RunError("sweep \(runner.plan.output.path): no point logged step \(step); choose a logged step")
        }
        var keys: [(String, Double)] = []
        for observation in observations {
            let key = (observation.point.line, observation.point.learningRate ?? 0)
            if !keys.contains(where: { $0 == key }) { keys.append(key) }
        }
        var targets: [String: Int] = [:]
        for observation in observations where targets[observation.point.line] == nil {
            targets[observation.point.line] = try targetParameters(observation.point)
        }
        let rows = keys.map { line, rate in
            let members = observations.filter { $0.point.line == line && ($0.point.learningRate ?? 0) == rate }
            let target = targets[line]!
            let forecast = { (logits: [(Int, Double?)]) -> Fit? in
                Self.fit(logits, at: target)
            }
            return Row(
                line: line, learningRate: rate, targetParameters: target,
                sizes: Array(Set(members.map(\.parameters))).sorted(),
                layer0: forecast(members.map { ($0.parameters, $0.layer0) }),
                allLayers: forecast(members.map { ($0.parameters, $0.all) }))
        }
        guard rows.contains(where: { $0.sizes.count >= 3 }) else {
            throw RunError(
                "sweep \(runner.plan.output.path): fewer than three model sizes logged step \(step) (a quadratic needs three)"
            )
        }
        (self.step, self.threshold, self.rows, self.leftOut) = (step, threshold, rows, leftOut)
    }

    /// Both fits of the positive finite `logits` at `parameters`; nil when fewer than two sizes
    /// remain (the quadratic nil below three).
    static func fit(_ logits: [(Int, Double?)], at parameters: Int) -> Fit? {
        let usable = logits.compactMap { count, logit in
            logit.flatMap { $0 > 0 && $0.isFinite ? (log10(Double(count)), log10($0)) : nil }
        }
        let sizes = Set(usable.map(\.0)).count
        guard sizes >= 2 else { return nil }
        let x = log10(Double(parameters))
        let evaluate = { (coefficients: [Double]) in
            pow(10, coefficients.enumerated().map { $1 * pow(x, Double($0)) }.reduce(0, +))
        }
        return Fit(
            quadratic: sizes >= 3 ? leastSquares(usable, degree: 2).map(evaluate) : nil,
            linear: leastSquares(usable, degree: 1).map(evaluate))
    }

    /// The coefficients c₀ … c_degree of the least-squares polynomial through `points`, from the
    /// normal equations (Gaussian elimination with partial pivoting); nil when singular.
    public static func leastSquares(_ points: [(Double, Double)], degree: Int) -> [Double]? {
        let n = degree + 1
        var matrix = [[Double]](repeating: [Double](repeating: 0, count: n + 1), count: n)
        for (x, y) in points {
            for row in 0..<n {
                for column in 0..<n { matrix[row][column] += pow(x, Double(row + column)) }
                matrix[row][n] += y * pow(x, Double(row))
            }
        }
        for pivot in 0..<n {
            let best = (pivot..<n).max { abs(matrix[$0][pivot]) < abs(matrix[$1][pivot]) }!
            guard abs(matrix[best][pivot]) > 1e-12 else { return nil }
            matrix.swapAt(pivot, best)
            for row in 0..<n where row != pivot {
                let factor = matrix[row][pivot] / matrix[pivot][pivot]
                for column in pivot...n { matrix[row][column] -= factor * matrix[pivot][column] }
            }
        }
        return (0..<n).map { matrix[$0][n] / matrix[$0][$0] }
    }

    /// The forecast table, with what it is and which forecasts pass the threshold.
    public var text: String {
        let lineWidth = max(16, (rows.map(\.line.count).max() ?? 0) + 2)
        let show = { (value: Double?) -> String in
            guard let value else { return "—" }
            return String(format: "%.4g", value) + (value > self.threshold ? " !" : "")
        }
        let targets = Set(rows.map(\.targetParameters))
        let target =
            targets.count == 1
            ? "forecast for \(targets.first!) non-embedding parameters"
            : "forecast for each line's non-embedding parameters at the target shape ("
                + rows.reduce(into: [String]()) { seen, row in
                    let entry = "\(row.line): \(row.targetParameters)"
                    if !seen.contains(entry) { seen.append(entry) }
                }.joined(separator: ", ") + ")"
        var lines = [
            "Max attention logit at step \(step), \(target) "
                + "(Wortsman et al. 2023, Fig. 9). Fit: log10(logit) against log10(non-embedding parameters), least squares "
                + "over every point; quadratic (the forecast) and linear.",
            "",
            SweepSummaryText.pad("line", lineWidth) + SweepSummaryText.pad("learning rate", 15)
                + SweepSummaryText.pad("sizes", 7) + SweepSummaryText.pad("layer 0 quadratic", 19)
                + SweepSummaryText.pad("layer 0 linear", 16) + SweepSummaryText.pad("all layers quadratic", 22)
                + "all layers linear",
        ]
        for row in rows {
            lines.append(
                SweepSummaryText.pad(row.line, lineWidth) + SweepSummaryText.pad(ChartAxis.label(row.learningRate), 15)
                    + SweepSummaryText.pad(String(row.sizes.count), 7)
                    + SweepSummaryText.pad(show(row.layer0?.quadratic), 19)
                    + SweepSummaryText.pad(show(row.layer0?.linear), 16)
                    + SweepSummaryText.pad(show(row.allLayers?.quadratic), 22) + show(row.allLayers?.linear))
        }
        let flagged = rows.filter {
            ($0.layer0?.quadratic ?? 0) > threshold || ($0.allLayers?.quadratic ?? 0) > threshold
        }
        lines.append("")
        lines.append(
            "! = above the threshold \(String(format: "%g", threshold)) (Wortsman et al. 2023: logits above 1e4 came with divergence); "
                + (flagged.isEmpty
                    ? "no quadratic forecast is above it"
                    : "quadratic forecast above it at: "
                        + flagged.map { "\($0.line) lr \(ChartAxis.label($0.learningRate))" }.joined(separator: ", ")))
        if !leftOut.isEmpty { lines.append("left out: " + leftOut.joined(separator: ", ")) }
        return lines.joined(separator: "\n")
    }
}
