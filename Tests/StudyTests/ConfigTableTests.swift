import Study
import XCTest

final class ConfigTableTests: XCTestCase {
    /// A float32 key written by an older QKLab as its exact binary value and now as the shortest
    /// decimal is the same setting (a sweep's old point.toml still matches; compare groups the
    /// runs as one variant); a real difference in a float64 key still counts (issue 35, item 7).
    func testFloat32ValuesWrittenEitherWayAreTheSame() throws {
        let old = try ConfigTable(
            text: "[model]\nnorm_eps = 9.999999974752427e-07\n[optim]\nlr = 1e-3\n", source: "old")
        let new = try ConfigTable(text: "[model]\nnorm_eps = 1e-06\n[optim]\nlr = 1e-3\n", source: "new")
        XCTAssertEqual(ConfigTable.differingPaths(among: [old, new]), [])
        let other = try ConfigTable(text: "[model]\nnorm_eps = 1e-05\n[optim]\nlr = 1.0000000001e-3\n", source: "other")
        XCTAssertEqual(ConfigTable.differingPaths(among: [new, other]), ["model.norm_eps", "optim.lr"])
    }
}
