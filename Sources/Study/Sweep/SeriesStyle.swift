/// How one series of a sweep chart is drawn: a colour (ten), a dash pattern (eight) and a marker
/// shape (four), so two series with equal values still show both (the dashes of the upper leave
/// the lower visible, and the markers differ in shape).
struct SeriesStyle: Equatable {
    static let colors = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
    ]
    static let dashes = ["", "8,4", "2,3", "10,3,2,3", "5,5", "12,4,4,4", "1,4", "6,2"]
    enum Shape: CaseIterable { case circle, square, triangle, diamond }

    let color: String
    let dash: String
    let shape: Shape?

    /// The style of series `index` (0-based).
    init(index: Int) {
        color = Self.colors[index % Self.colors.count]
        dash = Self.dashes[index % Self.dashes.count]
        shape = Shape.allCases[index % Shape.allCases.count]
    }

    init(color: String, dash: String, shape: Shape?) { (self.color, self.dash, self.shape) = (color, dash, shape) }

    /// The grey dashed reference line (the bigram loss).
    static let reference = SeriesStyle(color: "gray", dash: "5,3", shape: nil)

    var hasMarker: Bool { shape != nil }

    /// The stroke attributes of the series' line.
    var stroke: String {
        "stroke=\"\(color)\" stroke-width=\"2\"" + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"")
    }

    /// The series' marker centred at (x, y); `open` draws it white inside.
    func marker(x: Double, y: Double, open: Bool) -> String {
        let fill = open ? "white" : color
        let paint = "class=\"marker\(open ? " open" : "")\" fill=\"\(fill)\" stroke=\"\(color)\" stroke-width=\"1.5\""
        switch shape ?? .circle {
        case .circle: return "<circle cx=\"\(x)\" cy=\"\(y)\" r=\"4\" \(paint)/>"
        case .square: return "<rect x=\"\(x - 3.5)\" y=\"\(y - 3.5)\" width=\"7\" height=\"7\" \(paint)/>"
        case .triangle: return "<path d=\"M\(x),\(y - 5) L\(x + 4.5),\(y + 3.5) L\(x - 4.5),\(y + 3.5) Z\" \(paint)/>"
        case .diamond: return "<path d=\"M\(x),\(y - 5) L\(x + 5),\(y) L\(x),\(y + 5) L\(x - 5),\(y) Z\" \(paint)/>"
        }
    }
}
