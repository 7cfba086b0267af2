import Foundation

/// The scaling view of Wortsman et al. 2023 (arXiv 2309.14322, Figure 1): LR sensitivity against
/// non-embedding parameters, one line per variant without its size settings (`Point.line`).
extension SweepSummary {
    /// One model size of one line.
    public struct ScalingPoint: Equatable {
        public let line: String
        public let size: String
        /// From the runs' step-0 line; nil for runs written before QKLab recorded it.
        public let nonEmbeddingParameters: Int?
        public let sensitivity: Double?
        /// The smallest and largest per-seed sensitivity (equal with one seed); nil when not computed.
        public let seedRange: ClosedRange<Double>?
    }

    /// Whether the grid varies the model's size (any variant has a size setting).
    public var hasSizes: Bool { variants.contains { !$0.size.isEmpty } }

    /// Per line, its sizes in increasing parameter count (sizes without a count last, in grid order).
    public var scaling: [(line: String, points: [ScalingPoint])] {
        var lines: [String] = []
        for variant in variants where !lines.contains(variant.line) { lines.append(variant.line) }
        return lines.map { line in
            let points = variants.filter { $0.line == line }.map { variant in
                ScalingPoint(
                    line: line, size: variant.size, nonEmbeddingParameters: variant.facts.nonEmbeddingParameters,
                    sensitivity: variant.sensitivity,
                    seedRange: variant.seedSensitivities.min().map { $0...variant.seedSensitivities.max()! })
            }
            let ordered = points.enumerated().sorted {
                ($0.element.nonEmbeddingParameters ?? .max, $0.offset) < (
                    $1.element.nonEmbeddingParameters ?? .max, $1.offset
                )
            }
            return (line, ordered.map(\.element))
        }
    }
}
