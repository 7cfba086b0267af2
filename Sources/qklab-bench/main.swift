import Autograd
import Foundation
import Training
import Transformer

// qklab-bench: sgemm throughput, the time of each fused op (forward + backward) and of a whole
// model forward + backward, at the sizes of the benchmark configs S and M.
//   swift run -c release qklab-bench [--seconds-per-case X]

OpenBLASKernel.reexecWithBestKernelIfNeeded()

let secondsPerCase = CommandLine.arguments.firstIndex(of: "--seconds-per-case")
    .flatMap { Double(CommandLine.arguments[$0 + 1]) } ?? 1.0

print(SystemReport.current().description)
for size in [1024, 2048] {
    print(String(format: "sgemm %d²: %.1f GFLOP/s", size, SgemmBenchmark.measure(size: size, seconds: secondsPerCase)))
}

/// Median milliseconds of `body` (forward, then backward from a probe) over repeated runs.
func time(_ body: () -> Void) -> Double {
    body()
    var samples: [Double] = []
    let start = Date()
    repeat {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    } while Date().timeIntervalSince(start) < secondsPerCase || samples.count < 3
    return samples.sorted()[samples.count / 2]
}

/// Runs `forward` on fresh inputs and back-propagates a sum through it.
func forwardBackward(_ inputs: [Tensor], _ forward: () -> Tensor) {
    for input in inputs { input.requiresGrad = true; input.grad = nil }
    sum(forward()).backward()
}

struct Size { let name: String; let b: Int, t: Int, d: Int, heads: Int, layers: Int }
let sizes = [Size(name: "S", b: 12, t: 64, d: 128, heads: 4, layers: 4),
             Size(name: "M", b: 16, t: 256, d: 384, heads: 6, layers: 6)]

for size in sizes {
    var random = SeededRandom(seed: 1)
    let (b, t, d, h) = (size.b, size.t, size.d, size.heads)
    let f = (8 * d / 3 + 31) / 32 * 32
    func input(_ shape: [Int]) -> Tensor { Tensor(normal: shape, std: 1, random: &random) }
    let x = input([b, t, d]), w = input([d, d]), up = input([f, d]), gateOut = input([b, t, f]), upOut = input([b, t, f])
    let normWeight = Tensor(filling: 1, shape: [d]), headNorm = Tensor(filling: 1, shape: [d / h])
    let logits = input([b * t, 65])
    let targets = (0..<(b * t)).map { Int32($0 % 65) }
    print("\n\(size.name): B=\(b) T=\(t) d=\(d) H=\(h) F=\(f)   (forward + backward, median ms)")
    let cases: [(String, () -> Void)] = [
        ("linear d→d", { forwardBackward([x, w]) { linear(x, weight: w) } }),
        ("linear d→F", { forwardBackward([x, up]) { linear(x, weight: up) } }),
        ("rmsNorm", { forwardBackward([x, normWeight]) { rmsNorm(x, weight: normWeight, eps: 1e-6) } }),
        ("rmsNorm per head", { forwardBackward([x, headNorm]) { rmsNorm(x, weight: headNorm, eps: 1e-6) } }),
        ("rope", { forwardBackward([x]) { rope(x, headDim: d / h, theta: 10000) } }),
        ("causalAttention", { forwardBackward([x]) { causalAttention(q: x, k: x, v: x, heads: h, kvHeads: h).output } }),
        ("swiglu", { forwardBackward([gateOut, upOut]) { swiglu(gate: gateOut, up: upOut) } }),
        ("crossEntropy V=65", { forwardBackward([logits]) { crossEntropy(logits: logits, targets: targets).loss } }),
        ("add (residual)", { forwardBackward([x]) { add(x, x) } }),
    ]
    for (name, body) in cases {
        print(String(format: "  %-20@ %8.3f", name as NSString, time(body)))
    }
    var config = ModelConfig()
    config.vocabSize = 65
    (config.dModel, config.nLayer, config.nHead, config.blockSize) = (d, size.layers, h, t)
    for qkNorm in [ModelConfig.QKNorm.head, .off] {
        config.qkNorm = qkNorm
        let model = try! TransformerModel(config: config)
        let tokens = (0..<(b * t)).map { Int32($0 * 7 % 65) }
        let milliseconds = time {
            model.zeroGradients()
            model.loss(tokens: tokens, targets: targets, batch: b, length: t).loss.backward()
        }
        print(String(format: "  model qk_norm=%-4@ %8.3f ms forward+backward (%d parameters, %.0f tokens/s)",
                     qkNorm.rawValue as NSString, milliseconds, model.parameters.scalarCount, Double(b * t) / milliseconds * 1000))
    }
}
