/// Placement of text labels that sit beside lines of a chart (the bigram-loss labels): each
/// label as close to its wanted baseline as it can be without its box overlapping another's.
public enum ChartLabels {
    /// The height of one label's box at the charts' 12-pixel font, with a little air.
    public static let lineHeight = 14.0

    /// Baselines for labels that want `wanted` (SVG y, growing downwards), each box `height` tall
    /// (from baseline − height to baseline), kept within `bounds` where there is room: sorted
    /// top to bottom, each pushed down below the one above, then the stack pushed up from the
    /// bottom bound. Returned in the order of `wanted`. No two boxes overlap.
    public static func place(_ wanted: [Double], height: Double, within bounds: ClosedRange<Double>) -> [Double] {
        let order = wanted.indices.sorted { wanted[$0] < wanted[$1] }
        var placed = order.map { max(wanted[$0], bounds.lowerBound) }
        for index in placed.indices.dropFirst() { placed[index] = max(placed[index], placed[index - 1] + height) }
        if let last = placed.last, last > bounds.upperBound {
            placed[placed.count - 1] = bounds.upperBound
            for index in placed.indices.dropLast().reversed() {
                placed[index] = min(placed[index], placed[index + 1] - height)
            }
        }
        var result = wanted
        for (position, index) in order.enumerated() { result[index] = placed[position] }
        return result
    }
}
