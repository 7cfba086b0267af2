import Autograd
import Transformer
import XCTest

/// The whole model's gradient, through every op, in every layout: the exhaustive check, in the
/// end-to-end tier because it takes most of a minute (`checkModelGradients`, ModelGradientTests.swift).
final class ModelGradientEndToEndTests: XCTestCase {
    /// block_norm × qk_norm × mlp × norm_weight, all 54 combinations, with position,
    /// tie_embeddings, embed_scale and rope_fraction varied across them (`gradientCheckLayouts`).
    func testEveryLayoutCombination() throws {
        let layouts = gradientCheckLayouts()
        XCTAssertEqual(layouts.count, 54)
        for (key, values) in [
            ("position", Set(layouts.map { "\($0.position)" })), ("tie", Set(layouts.map { "\($0.tieEmbeddings)" })),
            ("embed_scale", Set(layouts.map { "\($0.embedScale)" })),
            ("rope_fraction", Set(layouts.map { "\($0.ropeFraction)" })),
        ] {
            XCTAssertEqual(values.count, 2, "\(key) takes both values")
        }
        for config in layouts { try checkModelGradients(config) }
    }
}
