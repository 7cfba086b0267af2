import Dispatch
import Foundation
import Training

/// What Muon and QK-Clip cost a training step against AdamW, on the model alone (no run folder):
/// three harnesses of one size with qk_norm off (QK-Clip's layout) — AdamW; Muon (AdamW beside
/// it); AdamW with QK-Clip at τ = 1e-6, so that every head is rescaled every step (the clip's
/// most work) — take one step each in turn, the order rotated every round, after 3 warm-up steps
/// each. Every harness pays the per-head maxima the attention measures anyway; `scripts/bench_ab.py`
/// measures that against a build without them.
enum OptimizerCost {
    /// Prints each harness's median step time over `rounds` rounds, and its median ratio to
    /// AdamW's step of the same round. `tokens` is the corpus, `shards` the batch shards per step.
    static func measure(_ size: Size, rounds: Int, tokens: [Int32], shards: Int) throws {
        let harnesses = [
            ("AdamW", try TrainingHarness(size, qkNorm: .off, corpus: tokens, shards: shards)),
            ("Muon", try TrainingHarness(size, qkNorm: .off, corpus: tokens, shards: shards, optimizer: .muon)),
            (
                "AdamW + QK-Clip",
                try TrainingHarness(size, qkNorm: .off, corpus: tokens, shards: shards, qkClipTau: 1e-6)
            ),
        ]
        for (_, harness) in harnesses { for _ in 0..<3 { harness.step(measuring: false) } }
        var seconds = [[Double]](repeating: [], count: harnesses.count)
        for round in 0..<rounds {
            for offset in 0..<harnesses.count {
                let index = (round + offset) % harnesses.count
                let start = DispatchTime.now().uptimeNanoseconds
                harnesses[index].1.step(measuring: false)
                seconds[index].append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
        }
        for (index, (name, _)) in harnesses.enumerated() {
            let ratios = zip(seconds[index], seconds[0]).map { $0 / $1 }
            print(
                String(
                    format: "  %@ %@ median step %7.2f ms, %.3f× AdamW's (median of %d rounds' ratios)",
                    size.name, name.padding(toLength: 16, withPad: " ", startingAt: 0), 1000 * median(seconds[index]),
                    median(ratios), rounds))
        }
    }
}
