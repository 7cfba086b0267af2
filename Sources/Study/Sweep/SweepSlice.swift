import Formats
import Foundation

/// Slice `index` of `count` of a sweep's points, so that one sweep can run as `count` jobs that
/// share nothing but the output folder (a scheduler's job array with `--shard i/n`, or the
/// processes of `mpirun -np n`).
///
/// Round-robin: the point at position k of the plan (grid order) belongs to slice k mod `count`.
/// Deterministic (it depends only on the plan and `count`), every point belongs to exactly one
/// slice, and the slices differ in size by at most one. Round-robin rather than contiguous
/// because neighbouring points of a grid differ in its innermost axes (seeds, then variants such
/// as model size), so each slice gets a mix of cheap and expensive points.
public struct SweepSlice: Equatable, CustomStringConvertible {
    /// i, 0-based: 0..<count.
    public let index: Int
    /// n ≥ 1.
    public let count: Int

    /// - Throws: `ConfigError` unless 0 ≤ index < count.
    public init(index: Int, count: Int) throws {
        guard count >= 1, (0..<count).contains(index) else {
            throw ConfigError(
                "--shard \(index)/\(count): expected i/n with n ≥ 1 and 0 ≤ i < n (0-based, e.g. 0/4 … 3/4)")
        }
        (self.index, self.count) = (index, count)
    }

    /// Reads `i/n`, e.g. `2/8`.
    /// - Throws: `ConfigError` naming the text when it is not two integers with 0 ≤ i < n.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
            throw ConfigError("--shard '\(text)': expected i/n, e.g. 0/4 (slice i of n, 0-based)")
        }
        try self.init(index: index, count: count)
    }

    public var description: String { "\(index)/\(count)" }

    /// The elements of `all` at positions k with k mod `count` = `index`, in their order.
    public func select<Element>(_ all: [Element]) -> [Element] {
        stride(from: index, to: all.count, by: count).map { all[$0] }
    }
}

extension SweepPlan {
    /// The same sweep (base, output folder, overrides) with only `slice`'s points: running it
    /// trains those points into the sweep's usual point folders.
    public func restricted(to slice: SweepSlice) -> SweepPlan {
        SweepPlan(base: base, output: output, fixedOverrides: fixedOverrides, points: slice.select(points))
    }

    private init(base: URL, output: URL, fixedOverrides: [String], points: [Point]) {
        (self.base, self.output, self.fixedOverrides, self.points) = (base, output, fixedOverrides, points)
    }
}
