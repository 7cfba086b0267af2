/// Where a per-layer metric of a run reached its largest or smallest finite value: the value, the
/// decoder layer (0-based), the logged step, and which metric when several are searched together
/// (`q_rms` and `k_rms`). Ties go to the earliest step, then the lowest layer, then the first metric.
public struct LayerExtremum: Equatable, Sendable {
    public let value: Double
    public let layer: Int
    public let step: Int
    /// The metric's name when several were searched ("q", "k"); nil for one.
    public let metric: String?

    /// A per-layer list of a training line, under the name it is reported by.
    public typealias Metric = (name: String?, values: (RunHistory.TrainingPoint) -> [Double?])

    /// The largest finite value of `metrics` over `points`.
    public static func largest(in points: [RunHistory.TrainingPoint], of metrics: [Metric]) -> LayerExtremum? {
        extremum(in: points, of: metrics, isBetter: >)
    }

    /// The smallest finite value of `metrics` over `points`.
    public static func smallest(in points: [RunHistory.TrainingPoint], of metrics: [Metric]) -> LayerExtremum? {
        extremum(in: points, of: metrics, isBetter: <)
    }

    static func extremum(
        in points: [RunHistory.TrainingPoint], of metrics: [Metric],
        isBetter: (Double, Double) -> Bool
    ) -> LayerExtremum? {
        var best: LayerExtremum?
        for point in points {
            for layer in 0..<(metrics.map { $0.values(point).count }.max() ?? 0) {
                for metric in metrics {
                    let values = metric.values(point)
                    guard layer < values.count, let value = values[layer] else { continue }
                    if best.map({ isBetter(value, $0.value) }) ?? true {
                        best = LayerExtremum(value: value, layer: layer, step: point.step, metric: metric.name)
                    }
                }
            }
        }
        return best
    }
}
