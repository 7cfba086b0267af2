import Foundation

/// The terminal report of `qklab compare`: one column per run with the config keys that differ
/// and the numbers of `RunSummary`; then, when the runs are seeds of variants (`SeedGroups`), one
/// column per variant with mean ± standard deviation over seeds, and Welch t-tests of the final
/// validation loss between variants. Only keys that can change the numbers define a variant
/// (`ConfigKeyRole`); the others are named in a note.
public struct ComparisonTable {
    public let runs: [RunHistory]
    public let summaries: [RunSummary]
    public let differingKeys: [String]
    public let seedGroups: SeedGroups?
    /// Validation loss whose first crossing is reported, if any.
    public let target: Double?

    public init(runs: [RunHistory], target: Double? = nil) {
        self.runs = runs
        self.target = target
        summaries = runs.map { RunSummary($0, target: target) }
        differingKeys = ConfigTable.differingPaths(among: runs.map(\.config))
        seedGroups = SeedGroups(configs: runs.map(\.config))
    }

    /// Welch's t-test of the final validation losses (finite ones) between each pair of variants
    /// that have two or more seeds; `a` and `b` index `seedGroups.variants`. `test` is nil when a
    /// variant has fewer than two finite losses or both have zero spread.
    public func finalValLossTests() -> [(a: Int, b: Int, test: WelchTTest?)] {
        guard let variants = seedGroups?.variants else { return [] }
        let seeded = variants.indices.filter { variants[$0].runs.count >= 2 }
        return seeded.indices.flatMap { i in
            seeded[(i + 1)...].map { b in
                let a = seeded[i]
                return (a, b, WelchTTest(finalValLosses(of: variants[a]), finalValLosses(of: variants[b])))
            }
        }
    }

    /// The finite final validation losses of a variant's runs.
    public func finalValLosses(of variant: SeedGroups.Variant) -> [Double] {
        variant.runs.compactMap { summaries[$0].finalValLoss }
    }

    /// The whole report.
    public var text: String {
        var sections = [Self.grid(header: [""] + runs.map(\.name), rows: configRows + metricRows)]
        if let note = differentLengthsNote { sections.append(note) }
        if let groups = seedGroups { sections.append(variantReport(groups)) }
        return sections.joined(separator: "\n\n")
    }

    // MARK: - Per run

    var configRows: [[String]] {
        differingKeys.map { path in [path] + runs.map { $0.config.displayValue(path) } }
    }

    var metricRows: [[String]] {
        let loss = { (value: Double?) in value.map { String(format: "%.4f", $0) } ?? "—" }
        var rows: [[String]] = [
            ["steps"] + summaries.map { "\($0.lastStep ?? 0)/\($0.maxSteps)" },
            ["final val loss"]
                + summaries.map { summary in
                    summary.finalEvaluation.map { $0.valLoss == nil ? "non-finite" : loss($0.valLoss) } ?? "—"
                },
            ["best val loss"] + summaries.map { loss($0.bestValLoss) },
            ["bigram loss"] + summaries.map { loss($0.bigramLoss) },
        ]
        if let target {
            rows.append(
                ["step val loss ≤ \(Self.short(target))"]
                    + summaries.map { $0.targetStep.map(String.init) ?? "not reached" })
        }
        rows += [
            ["max grad norm"] + summaries.map { Self.short($0.maxGradNorm) },
            ["loss spike score"] + summaries.map { Self.spikeScore($0.lossSpikes) },
            ["grad norm spike score"] + summaries.map { Self.spikeScore($0.gradNormSpikes) },
            ["max attn logit"]
                + summaries.map { summary in
                    summary.maxAttnLogit.map { "\(Self.short($0.value)) (layer \($0.layer))" } ?? "—"
                },
            ["max attn logit, layer 0"] + summaries.map { Self.short($0.maxAttnLogitLayer0) },
            ["min attn entropy"] + summaries.map { Self.located($0.minAttnEntropy) },
            ["min head entropy"] + summaries.map { Self.located($0.minHeadEntropy) },
            ["max q/k rms"] + summaries.map { Self.located($0.maxQKRMS) },
            ["max update ratio"] + summaries.map { Self.located($0.maxUpdateRatio) },
            ["final output log Z"] + summaries.map { Self.short($0.finalOutputLogZ) },
            ["non-finite steps"]
                + zip(summaries, runs).map { summary, run in
                    summary.nonFiniteSteps == 0
                        ? "0"
                        : "\(summary.nonFiniteSteps) (\(run.config["train.on_nonfinite"] == .text("skip") ? "skipped" : "stopped"))"
                },
            ["tokens/s (median)"]
                + summaries.map { $0.medianTokensPerSecond.map { String(format: "%.0f", $0) } ?? "—" },
        ]
        return rows
    }

    /// A warning when final validation losses were measured at different steps.
    var differentLengthsNote: String? {
        let steps = summaries.compactMap { $0.finalEvaluation?.step }
        guard Set(steps).count > 1 else { return nil }
        return
            "note: the final evaluations are at different steps (\(steps.map(String.init).joined(separator: ", "))); their losses are not directly comparable"
    }

    // MARK: - Per variant

    func variantReport(_ groups: SeedGroups) -> String {
        let rows: [[String]] = [
            ["seeds"] + groups.variants.map { String($0.runs.count) },
            ["final val loss"]
                + groups.variants.map { Self.meanAndSpread(finalValLosses(of: $0), of: $0.runs.count, format: "%.4f") },
            ["best val loss"]
                + groups.variants.map { variant in
                    Self.meanAndSpread(
                        variant.runs.compactMap { summaries[$0].bestValLoss }, of: variant.runs.count, format: "%.4f")
                },
            ["max attn logit"]
                + groups.variants.map { variant in
                    Self.meanAndSpread(
                        variant.runs.compactMap { summaries[$0].maxAttnLogit?.value }, of: variant.runs.count,
                        format: "%.4g")
                },
            ["max attn logit, layer 0"]
                + groups.variants.map { variant in
                    Self.meanAndSpread(
                        variant.runs.compactMap { summaries[$0].maxAttnLogitLayer0 }, of: variant.runs.count,
                        format: "%.4g")
                },
            ["loss spike score (%)"]
                + groups.variants.map { variant in
                    Self.meanAndSpread(
                        variant.runs.compactMap { summaries[$0].lossSpikes.percent }, of: variant.runs.count,
                        format: "%.2f")
                },
            ["grad norm spike score (%)"]
                + groups.variants.map { variant in
                    Self.meanAndSpread(
                        variant.runs.compactMap { summaries[$0].gradNormSpikes.percent }, of: variant.runs.count,
                        format: "%.2f")
                },
            ["runs with non-finite steps"]
                + groups.variants.map { variant in
                    "\(variant.runs.filter { summaries[$0].nonFiniteSteps > 0 }.count) of \(variant.runs.count)"
                },
        ]
        let names = Self.variantNames(groups.variants.map(\.label))
        var lines = ["By variant (mean ± standard deviation over seeds):"]
        if names != groups.variants.map(\.label) {
            lines += zip(names, groups.variants).map { "  \($0) = \($1.label)" }
        }
        lines.append(Self.grid(header: [""] + names, rows: rows))
        lines += groups.repeats.map {
            "note: \(runs[$0.run].name) repeats the seeds of \(runs[$0.original].name); counted once"
        }
        if let note = Self.ignoredKeysNote(groups.ignoredKeys) { lines.append(note) }
        for (name, variant) in zip(names, groups.variants) where !variant.samplingKeys.isEmpty {
            lines.append(
                "note: the runs of \(name) differ in \(variant.samplingKeys.joined(separator: ", ")): "
                    + variant.samplingKeys.map(Self.samplingEffect).joined(separator: "; "))
        }
        let tests = finalValLossTests()
        if !tests.isEmpty {
            lines.append("\nFinal val loss, Welch's t-test (two-sided), variants with two or more seeds:")
            lines += tests.map {
                "  \(names[$0.a]) vs \(names[$0.b]): "
                    + welchLine(groups.variants[$0.a], groups.variants[$0.b], $0.test)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Why keys that differ between runs define no variant (nil when there are none).
    static func ignoredKeysNote(_ keys: [String]) -> String? {
        let bookkeeping = keys.filter { ConfigKeyRole.of($0) == .bookkeeping }
        let sampling = keys.filter { ConfigKeyRole.of($0) == .sampling }
        var reasons: [String] = []
        if !bookkeeping.isEmpty {
            reasons.append("\(bookkeeping.joined(separator: ", ")) cannot change a run's numbers")
        }
        if !sampling.isEmpty {
            reasons.append(
                "\(sampling.joined(separator: ", ")) change\(sampling.count == 1 ? "s" : "") only which steps are measured"
            )
        }
        return reasons.isEmpty ? nil : "note: not variant keys: " + reasons.joined(separator: "; ")
    }

    /// What a `sampling` key's difference does to the numbers of one variant.
    static func samplingEffect(_ key: String) -> String {
        switch key {
        case "train.log_interval":
            return "their max attn logit, telemetry and spike scores are over different logged steps"
        case "train.eval_interval":
            return "their best val loss is over different evaluation steps (and a run with 0 has none)"
        default: return "\(key) changes which steps are measured"
        }
    }

    /// Variant labels as column headers, or "V1", "V2", … when a label is too long for a column.
    static func variantNames(_ labels: [String]) -> [String] {
        labels.allSatisfy { $0.count <= 24 } ? labels : labels.indices.map { "V\($0 + 1)" }
    }

    func welchLine(_ a: SeedGroups.Variant, _ b: SeedGroups.Variant, _ test: WelchTTest?) -> String {
        guard let test, let meanA = Statistics.mean(finalValLosses(of: a)),
            let meanB = Statistics.mean(finalValLosses(of: b))
        else {
            return "not computable (needs two or more finite final val losses per variant, not all equal)"
        }
        return String(
            format: "difference %+.4f, t = %.3f, df = %.1f, p = %.3g", meanA - meanB, test.t, test.degreesOfFreedom,
            test.pValue)
    }

    // MARK: - Formatting

    /// "1.8342 ± 0.0121", with "(n of N)" when some runs had no value; "—" for none.
    static func meanAndSpread(_ values: [Double], of total: Int, format: String) -> String {
        guard let mean = Statistics.mean(values) else { return "—" }
        var text = String(format: format, mean)
        if let spread = Statistics.standardDeviation(values) { text += " ± " + String(format: format, spread) }
        if values.count < total || values.count == 1 { text += " (n=\(values.count))" }
        return text
    }

    /// "0.52% (3 of 580, first step 1230)", "0.00% (0 of 580)"; below `SpikeScore.minimumJudged`
    /// judged values "—", with the spikes there were: "— (1 of 12 judged, first step 25)".
    static func spikeScore(_ score: SpikeScore) -> String {
        let first = score.spikeSteps.first.map { ", first step \($0)" } ?? ""
        guard let percent = score.percent else {
            return score.spikeSteps.isEmpty ? "—" : "— (\(score.spikeSteps.count) of \(score.judged) judged\(first))"
        }
        return String(format: "%.2f%%", percent) + " (\(score.spikeSteps.count) of \(score.judged)\(first))"
    }

    /// "0.1234 (layer 2, step 400)", "k 12.5 (layer 0, step 990)"; "—" for nil.
    static func located(_ extremum: LayerExtremum?) -> String {
        guard let extremum else { return "—" }
        return (extremum.metric.map { "\($0) " } ?? "")
            + "\(short(extremum.value)) (layer \(extremum.layer), step \(extremum.step))"
    }

    /// Four significant digits ("0.8412", "1234", "3.1e+04"); "—" for nil.
    static func short(_ value: Double?) -> String {
        value.map { String(format: "%.4g", $0) } ?? "—"
    }

    /// Columns separated by two spaces: the first left-aligned, the others right-aligned.
    static func grid(header: [String], rows: [[String]]) -> String {
        let table = [header] + rows
        let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
        return table.map { row in
            row.enumerated().map { column, cell in
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + padding : padding + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
