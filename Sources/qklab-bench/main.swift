import Autograd
import Foundation
import Training
import Transformer

// qklab-bench: what QKLab's speed is made of.
//   swift run -c release qklab-bench [--seconds-per-case X] [--steps N] [--only S|M] [--shards N] [--skip-ops]
//                                    [--skip-training] [--skip-generation] [--generation-chars N] [--recomputed-chars N]
//                                    [--measure-every N] [--no-probe]
//   swift run -c release qklab-bench --telemetry-cost ROUNDS [--only S|M] [--cost-steps N] [--cost-pairs N]
//   swift run -c release qklab-bench --optimizer-cost ROUNDS [--only S|M] [--shards N]
// (peak RSS is the process's: for the memory of training alone, run one size with --skip-ops)
// 1. sgemm throughput through the BLAS wrapper (the peak MFU is measured against);
// 2. each fused op, forward + backward, at the sizes of the benchmark configs S and M; and the
//    products of one batch shard through BLAS on one thread, against a 1024² product;
// 3. real training steps (forward, backward, clipping, AdamW) of S and M with qk_norm head and
//    off: tokens/s, model FLOP/s, MFU (against the peak of 1., and against a 1024² sgemm probe
//    run after every timed step, out of most of the machine's drift; an untimed step follows each
//    probe; --no-probe: timed steps back to back, no probe), peak RSS, where the time goes;
// 4. generation of S and M (qk_norm head; --skip-generation skips it): characters/s with the key/value cache and recomputing
//    the context for every character (1,000 characters each unless told otherwise).
// --measure-every N: every N-th step of 3. records the stability telemetry (as a logged step of
//    `qklab train` does: the model's statistics and the update ratio), warm-up steps included, so
//    the allocation count covers the measuring path too.
// --telemetry-cost ROUNDS: instead of 2.–4., what the telemetry costs a real run: `Trainer` runs
//    of S and M (synthetic corpus, no evaluation, one final checkpoint) logging every 10 and
//    every 1000 steps, alternately, ROUNDS times; the ratio of their training times (`elapsed_s`
//    at the last step) per round, its median and range; then measured and unmeasured steps of
//    one model alternately, --cost-pairs times (S 200, M 20), and the median ratio of the pairs.
// --optimizer-cost ROUNDS: instead of 2.–4., the step time of Muon and of QK-Clip (every head
//    clipped) against AdamW's, steps of the three alternated (`OptimizerCost`).

let options = BenchOptions.parseCommandLine()

OpenBLASKernel.reexecWithBestKernelIfNeeded()
SmallProducts.exitIfTargetUnsupported(program: "qklab-bench")
SubnormalFlush.enable()

let secondsPerCase = options.secondsPerCase
let timedSteps = options.steps
let only = options.only?.rawValue
/// Batch shards of a training step (default: one per core, as `qklab train` runs).
let shards = options.shards ?? Parallel.threadCount
/// Characters generated per size with the key/value cache, and by the recomputing path.
let generationCharacters = options.generationChars
let recomputedCharacters = options.recomputedChars ?? generationCharacters
/// Every how many timed training steps the telemetry is measured (nil: never).
let measureEvery = options.measureEvery

print(SystemReport.current().description)
let peak = SgemmBenchmark.measure(size: 2048, seconds: secondsPerCase)
/// Side of the square sgemm that training steps and single products are compared with.
let probeSize = 1024
/// Whether timed training steps alternate with probes (and untimed steps); `--no-probe`: back to back.
let probing = !options.noProbe
print(
    String(
        format: "sgemm 1024²: %.1f GFLOP/s   2048²: %.1f GFLOP/s (the peak below)",
        SgemmBenchmark.measure(size: 1024, seconds: secondsPerCase), peak))

/// Median milliseconds of `body` over repeated runs (after one warm-up).
func medianMilliseconds(_ body: () -> Void) -> Double {
    body()
    var samples: [Double] = []
    let start = Date()
    repeat {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    } while Date().timeIntervalSince(start) < secondsPerCase || samples.count < 3
    return median(samples)
}

/// Runs `forward` and back-propagates a sum through it.
func forwardBackward(_ inputs: [Tensor], _ forward: () -> Tensor) {
    for input in inputs {
        input.requiresGrad = true
        input.grad = nil
    }
    sum(forward()).backward()
}

func padded(_ text: String, _ width: Int) -> String {
    text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0)
}

/// Peak resident set size of this process, from /proc/self/status (VmHWM).
func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return .nan }
    return (Double(line.split(separator: " ").dropFirst().first ?? "") ?? .nan) / 1024
}

struct Size {
    let name: String
    let b: Int, t: Int, d: Int, heads: Int, layers: Int
    /// The MLP's hidden width F, as `ModelConfig` derives it from d_model.
    var f: Int { (8 * d / 3 + 31) / 32 * 32 }
}
/// The benchmark models' vocabulary: tiny Shakespeare's 65 characters.
let vocabularySize = 65
/// 200,000 tokens of a fixed pattern over the vocabulary (speed does not depend on the text).
let syntheticCorpus: [Int32] = (0..<200_000).map { (i: Int) -> Int32 in Int32((i * 7919 + i / 13) % vocabularySize) }
let sizes = [
    Size(name: "S", b: 12, t: 64, d: 128, heads: 4, layers: 4),
    Size(name: "M", b: 16, t: 256, d: 384, heads: 6, layers: 6),
].filter { only == nil || $0.name == only }

func opBenchmarks(_ size: Size) {
    var random = SeededRandom(seed: 1)
    let (b, t, d, h) = (size.b, size.t, size.d, size.heads)
    let f = size.f
    func input(_ shape: [Int]) -> Tensor { Tensor(normal: shape, std: 1, random: &random) }
    let x = input([b, t, d]), w = input([d, d]), up = input([f, d]), gateUp = input([2 * f, d]), down = input([d, f])
    let normWeight = Tensor(filling: 1, shape: [d]), headNorm = Tensor(filling: 1, shape: [d / h])
    let logits = input([b * t, vocabularySize])
    let targets = (0..<(b * t)).map { Int32($0 % vocabularySize) }
    print("\n\(size.name): B=\(b) T=\(t) d=\(d) H=\(h) F=\(f); each op forward + backward, median ms")
    let cases: [(String, () -> Void)] = [
        ("linear d→d", { forwardBackward([x, w]) { linear(x, weight: w) } }),
        ("linear d→F", { forwardBackward([x, up]) { linear(x, weight: up) } }),
        ("rmsNorm", { forwardBackward([x, normWeight]) { rmsNorm(x, weight: normWeight, eps: 1e-6) } }),
        ("rmsNorm per head", { forwardBackward([x, headNorm]) { rmsNorm(x, weight: headNorm, eps: 1e-6) } }),
        ("rope", { forwardBackward([x]) { rope(x, table: RotaryTable(positions: t, headDim: d / h, theta: 10000)) } }),
        (
            "causalAttention",
            { forwardBackward([x]) { causalAttention(q: x, k: x, v: x, heads: h, kvHeads: h).output } }
        ),
        (
            "swiglu MLP (fused)",
            { forwardBackward([x, gateUp, down]) { gatedFeedForward(x, gateUp: gateUp, down: down) } }
        ),
        (
            "crossEntropy V=\(vocabularySize)",
            { forwardBackward([logits]) { crossEntropy(logits: logits, targets: targets).loss } }
        ),
        ("add (residual)", { forwardBackward([x]) { add(x, x) } }),
    ]
    for (name, body) in cases {
        print("  \(padded(name, 20)) \(String(format: "%8.3f", medianMilliseconds(body)))")
    }
}

/// The products of one batch shard's training step of `size` (rows: the shard's tokens) through
/// `BLAS.gemm` on this thread alone, as a shard runs them: GFLOP/s, and the median ratio to a
/// 1024² product timed right after each (so most of the machine's drift drops out).
func shardProductBenchmarks(_ size: Size) {
    var random = SeededRandom(seed: 2)
    let rows = size.b / max(1, min(shards, size.b)) * size.t, d = size.d, f = size.f, v = vocabularySize
    let shapes: [(name: String, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int)] = [
        ("x·Wᵀ d→d", false, true, rows, d, d), ("x·Wᵀ d→2F", false, true, rows, 2 * f, d),
        ("h·Wᵀ F→d", false, true, rows, d, f), ("x·Wᵀ d→V", false, true, rows, v, d),
        ("dY·W d→d", false, false, rows, d, d), ("dY·W 2F→d", false, false, rows, d, 2 * f),
        ("dY·W d→F", false, false, rows, f, d), ("dY·W V→d", false, false, rows, d, v),
        ("dYᵀ·x d×d", true, false, d, d, rows), ("dYᵀ·x 2F×d", true, false, 2 * f, d, rows),
        ("dYᵀ·h d×F", true, false, d, f, rows), ("dYᵀ·x V×d", true, false, v, d, rows),
    ]
    let probe = SgemmBenchmark.Probe(size: probeSize)
    func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
    func reference() -> Double {  // GFLOP/s of one probe product on this thread
        probe.productFLOPs / seconds { probe.multiply(into: 0) } / 1e9
    }
    print(
        "\n\(size.name): one shard's products (\(rows) rows) on one thread, GFLOP/s and ratio to a \(probeSize)² product right after"
    )
    for shape in shapes {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let left = Tensor(normal: [m * k], std: 1, random: &random),
            right = Tensor(normal: [k * n], std: 1, random: &random)
        let out = Tensor(zeros: [m * n])
        let repeats = max(1, Int(2e8 / Double(2 * m * n * k)))  // ~0.2 GFLOP per timing
        var rates: [Double] = [], ratios: [Double] = []
        let start = Date()
        repeat {
            let rate =
                2 * Double(m * n * k * repeats)
                / seconds {
                    for _ in 0..<repeats {
                        BLAS.gemm(
                            transposeA: shape.transposeA, transposeB: shape.transposeB, m: m, n: n, k: k,
                            a: left.data, lda: shape.transposeA ? m : k, b: right.data, ldb: shape.transposeB ? k : n,
                            beta: 0, c: out.data, ldc: n)
                    }
                } / 1e9
            rates.append(rate)
            ratios.append(rate / reference())
        } while Date().timeIntervalSince(start) < secondsPerCase || rates.count < 5
        print(
            String(
                format: "  %@ %4d×%-4d·%4d  %6.1f GFLOP/s  %5.1f%% of %d²", padded(shape.name, 12), m, k, n,
                median(rates), 100 * median(ratios), probeSize))
    }
}

/// Model FLOPs of one training step: 6 per parameter per token for the matrices (forward 2,
/// backward 4) plus attention's scores and values (3 × 4·T·Dh per token per head per layer,
/// counting the full T×T products the kernels compute).
func stepFLOPs(_ model: TransformerModel, tokens: Int) -> Double {
    let c = model.config
    let matrices = model.parameters.filter { $0.tensor.shape.count == 2 && !$0.name.contains("embed_positions") }
    let matrixCount: Int = matrices.reduce(0) { $0 + $1.tensor.count }
    let matrixParameters = Double(matrixCount)
    let attentionProducts = c.blockSize * c.headDimension * c.nHead * c.nLayer
    let attention = 12.0 * Double(attentionProducts)
    let perToken: Double = 6 * matrixParameters + attention
    return Double(tokens) * perToken
}

/// A timed training step: its seconds, the products inside it per library (core-seconds, FLOPs;
/// lanes indexed by `OpProfile.ProductLibrary`, as in `OpProfile`), its slowest shard's time over
/// its fastest's (`OpProfile.shardNanoseconds`; 1 with one shard), and the GFLOP/s of the sgemm
/// probe run right after it (nil with `--no-probe`).
struct TimedStep {
    let seconds: Double, productSeconds: SIMD2<Double>, productFLOPs: SIMD2<Double>, shardSpread: Double,
        probeGFLOPs: Double?
}

/// `OpProfile`'s product totals so far, per library, as seconds and FLOPs.
func productTotals() -> (seconds: SIMD2<Double>, flops: SIMD2<Double>) {
    (SIMD2<Double>(OpProfile.productNanoseconds) / 1e9, OpProfile.productFLOPs)
}

func trainingBenchmark(_ size: Size, qkNorm: ModelConfig.QKNorm) throws {
    let harness = try TrainingHarness(size, qkNorm: qkNorm, corpus: syntheticCorpus, shards: shards)
    let probe = probing ? SgemmBenchmark.Probe(size: probeSize) : nil
    var stepCount = 0
    func step() {
        stepCount += 1
        harness.step(measuring: measureEvery.map { stepCount % $0 == 0 } ?? false)
    }
    for _ in 0..<3 { step() }  // warm-up: buffers, caches, the pool
    let allocationsBefore = BufferPool.statistics.systemAllocations
    OpProfile.reset()
    let steps = (0..<timedSteps).map { index -> TimedStep in
        if index > 0 && probing { step() }  // untimed: the probe left other data in the caches
        let before = productTotals()
        OpProfile.isEnabled = true
        let t0 = DispatchTime.now().uptimeNanoseconds
        step()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        OpProfile.isEnabled = false
        let after = productTotals(), shardTimes = OpProfile.shardNanoseconds.map { Double($0) }
        let shardSpread = shardTimes.min().map { fastest in fastest > 0 ? shardTimes.max()! / fastest : 1 } ?? 1
        return TimedStep(
            seconds: seconds, productSeconds: after.seconds - before.seconds, productFLOPs: after.flops - before.flops,
            shardSpread: shardSpread, probeGFLOPs: probe?.gflops())
    }
    let allocations = BufferPool.statistics.systemAllocations - allocationsBefore
    report(steps, of: harness, allocations: allocations)
}

/// Prints a size's training measurements: tokens/s, MFU against the start's peak and against
/// each step's probe, memory, where the op time goes, and each library's products against the probe.
func report(_ steps: [TimedStep], of harness: TrainingHarness, allocations: Int) {
    let (size, model) = (harness.size, harness.model)
    let tokens = Double(size.b * size.t), flopsPerStep = stepFLOPs(model, tokens: size.b * size.t)
    let rates = steps.map { tokens / $0.seconds }.sorted()
    let flops = flopsPerStep * median(rates) / tokens
    print(
        String(
            format: "  %@ qk_norm=%-4@ %7.0f tok/s (min %.0f, max %.0f)  %6.1f GFLOP/s  MFU %4.1f%%  peak RSS %.0f MB",
            size.name, model.config.qkNorm.rawValue, median(rates), rates.first!, rates.last!, flops / 1e9,
            100 * flops / (peak * 1e9), peakRSSMegabytes()))
    // Each step's model FLOP/s against the sgemm rate probed right after it: most of the
    // machine's drift between the peak measured at the start and the steps drops out.
    let probed = steps.compactMap { step in step.probeGFLOPs.map { (step, $0) } }
    if !probed.isEmpty {
        let mfus = probed.map { step, probe in flopsPerStep / step.seconds / (probe * 1e9) }.sorted()
        let probes = probed.map(\.1)
        print(
            String(
                format:
                    "      MFU against the sgemm %d² probe after each step: median %.1f%% (quartiles %.1f–%.1f%%; probes %.0f–%.0f GFLOP/s)",
                probeSize, 100 * median(mfus), 100 * quantile(mfus, 0.25), 100 * quantile(mfus, 0.75),
                probes.min()!, probes.max()!))
    }
    let pool = BufferPool.statistics
    print(
        String(
            format: "      tensor buffers: peak %.0f MB held, %d allocated during the timed steps%@",
            Double(pool.peakBytesHeld) / 1048576, allocations,
            measureEvery.map { " (telemetry measured every \($0) steps)" } ?? ""))
    // Shards run their ops at the same time, so op times are core-seconds: shares of their sum.
    let parts = OpProfile.seconds.filter { $0.seconds > 0 }
    let accounted = parts.reduce(0) { $0 + $1.seconds }
    let breakdown = parts.map { String(format: "%@ %.0f%%", $0.category.description, 100 * $0.seconds / accounted) }
    print(
        String(
            format: "      op time (%d shards, %.1f core-ms per step): ", harness.dataParallel.shardCount,
            1000 * accounted / Double(steps.count)) + breakdown.joined(separator: ", "))
    // Shards of as many rows each, one per core, do the same work: the spread of their times is
    // how far apart the cores ran. (Uneven rows, or shards taking turns on a core, would blur it.)
    let shardCount = min(harness.dataParallel.shardCount, size.b)
    if shardCount > 1 && size.b % shardCount == 0 && shardCount <= Parallel.threadCount {
        let spreads = steps.map(\.shardSpread).sorted()
        print(
            String(
                format:
                    "      shards (the same work each): the slowest took median %.2f× the fastest (quartiles %.2f–%.2f×)",
                median(spreads), quantile(spreads, 0.25), quantile(spreads, 0.75)))
    }
    // The products inside those ops, per library, step by step against the probe's rate per core:
    // what the products lose in a real step (operands wherever the ops before left them).
    for library in OpProfile.ProductLibrary.allCases {
        let index = library.rawValue
        let seconds = steps.reduce(0) { $0 + $1.productSeconds[index] }
        guard seconds > 0 else { continue }
        let flopShare = steps.reduce(0) { $0 + $1.productFLOPs[index] } / steps.reduce(0) { $0 + $1.productFLOPs.sum() }
        let shares = probed.filter { step, _ in step.productSeconds[index] > 0 }
            .map { step, probe in
                step.productFLOPs[index] / step.productSeconds[index] / (probe * 1e9 / Double(Parallel.threadCount))
            }
        print(
            String(
                format: "      %@ products: %.1f core-ms per step (%.0f%% of the op time), %.0f%% of the product FLOPs",
                library.description, 1000 * seconds / Double(steps.count), 100 * seconds / accounted, 100 * flopShare)
                + (shares.isEmpty
                    ? "" : String(format: ", median %.0f%% of the probe's rate per core", 100 * median(shares))))
    }
}

/// Characters per second of `qklab sample`'s generation (temperature 0.8, seed 0, from a prompt
/// of one character, id 0) with a freshly initialised model of `size` (speed does not depend on the weights): with
/// the key/value cache (`Generation.generate`) and recomputing the context for every character
/// (`Generation.generateRecomputing`); and how many leading characters the two texts share (all
/// of them while the context fits in block_size; beyond it the two keep different contexts).
func generationBenchmark(_ size: Size) throws {
    var config = ModelConfig()
    config.vocabSize = vocabularySize
    (config.dModel, config.nLayer, config.nHead, config.blockSize) = (size.d, size.layers, size.heads, size.t)
    let model = try TransformerModel(config: config)
    var options = GenerationOptions()
    options.temperature = 0.8
    let prompt: [Int32] = [0]
    func timed(_ characters: Int, _ generate: (GenerationOptions) -> [Int32]) -> (
        text: [Int32], perSecond: Double, seconds: Double
    ) {
        var run = options
        run.tokens = characters
        let t0 = DispatchTime.now().uptimeNanoseconds
        let text = generate(run)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return (text, Double(characters) / seconds, seconds)
    }
    options.tokens = 20
    _ = Generation.generate(model: model, prompt: prompt, options: options)  // warm-up
    let cached = timed(generationCharacters) { Generation.generate(model: model, prompt: prompt, options: $0) }
    let recomputed = timed(recomputedCharacters) {
        Generation.generateRecomputing(model: model, prompt: prompt, options: $0)
    }
    let shared = zip(cached.text, recomputed.text).prefix { $0 == $1 }.count
    print(
        String(
            format:
                "  %@ cached %8.1f chars/s (%d in %.2f s)   recomputed %6.1f chars/s (%d in %.2f s)   %.1f×   same first %d characters",
            size.name, cached.perSecond, generationCharacters, cached.seconds, recomputed.perSecond,
            recomputedCharacters,
            recomputed.seconds, cached.perSecond / recomputed.perSecond, shared))
}

if let rounds = options.telemetryCost {
    setvbuf(stdout, nil, _IOLBF, 0)  // each round's line as it comes, also into a pipe
    let steps = options.costSteps, pairs = options.costPairs
    print("\nTelemetry cost: training time logging every 10 steps / every 1000 steps, alternately, \(rounds) rounds")
    for size in sizes {
        try TelemetryCost.measure(
            size, rounds: rounds, steps: steps ?? (size.name == "S" ? 300 : 40),
            tokens: syntheticCorpus, shards: shards)
        try TelemetryCost.pairedSteps(
            size, pairs: pairs ?? (size.name == "S" ? 200 : 20), tokens: syntheticCorpus, shards: shards)
    }
    exit(0)
}
if let rounds = options.optimizerCost {
    print("\nOptimizer cost: steps of AdamW, Muon and AdamW + QK-Clip in turn (qk_norm off), \(rounds) rounds")
    for size in sizes { try OptimizerCost.measure(size, rounds: rounds, tokens: syntheticCorpus, shards: shards) }
    exit(0)
}
if !options.skipOps {
    for size in sizes {
        opBenchmarks(size)
        shardProductBenchmarks(size)
    }
}
if !options.skipTraining {
    print("\nTraining steps (\(timedSteps) timed after 3 warm-up; MFU against the sgemm peak above)")
    for size in sizes {
        for qkNorm in [ModelConfig.QKNorm.head, .off] {
            try trainingBenchmark(size, qkNorm: qkNorm)
            BufferPool.shared.releaseFreeBuffers()  // the next model's buffers differ in size
        }
    }
}
if !options.skipGeneration {
    print("\nGeneration (temperature 0.8 from a one-character prompt; qk_norm head)")
    for size in sizes { try generationBenchmark(size) }
}
