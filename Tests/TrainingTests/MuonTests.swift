import Autograd
import Training
import Transformer
import XCTest

/// Muon (`Muon`, `NewtonSchulz`): the iteration's singular values, one step against a reference
/// computed here in Double from the same gradients, thread independence, and its config rules.
final class MuonTests: XCTestCase {
    /// p(s) = a·s + b·s³ + c·s⁵, one Newton–Schulz step on a singular value.
    static func p(_ s: Double) -> Double {
        let (a, b, c) = (
            Double(NewtonSchulz.coefficients.a), Double(NewtonSchulz.coefficients.b),
            Double(NewtonSchulz.coefficients.c)
        )
        return a * s + b * s * s * s + c * s * s * s * s * s
    }

    /// The band the coefficients give: p's local maximum and minimum on (0, ∞) are at the roots
    /// s² = (−3b ∓ √(9b² − 20ac)) / 10c of p′; p maps [s_max, upper] into [lower, upper] with
    /// lower = p(s_min), upper = p(s_max) (about 0.68 and 1.20), so a singular value that reaches
    /// it stays in it.
    static var band: ClosedRange<Double> {
        let (a, b, c) = (
            Double(NewtonSchulz.coefficients.a), Double(NewtonSchulz.coefficients.b),
            Double(NewtonSchulz.coefficients.c)
        )
        let root = (9 * b * b - 20 * a * c).squareRoot()
        let (sMax, sMin) = (((-3 * b - root) / (10 * c)).squareRoot(), ((-3 * b + root) / (10 * c)).squareRoot())
        return p(sMin)...p(sMax)
    }

    func testBandOfTheCoefficients() {
        XCTAssertEqual(Self.band.lowerBound, 0.68, accuracy: 0.01)
        XCTAssertEqual(Self.band.upperBound, 1.20, accuracy: 0.01)
    }

    /// Random Gaussian matrices, wide and tall (whose normalised singular values, above about 0.1,
    /// reach the band within five steps): every singular value of NS₅'s output lies in the band.
    func testSingularValuesEndInTheBand() {
        var random = SeededRandom(seed: 7)
        for (rows, columns) in [(12, 40), (40, 12), (24, 24 + 8)] {
            let matrix = (0..<(rows * columns)).map { _ in Float(random.nextNormal()) }
            let x = NewtonSchulz.orthogonalize(matrix, rows: rows, columns: columns)
            let values = singularValues(x.map(Double.init), rows: rows, columns: columns)
            XCTAssertEqual(values.count, min(rows, columns))
            for value in values {
                XCTAssertTrue(
                    (Self.band.lowerBound - 1e-3)...(Self.band.upperBound + 1e-3) ~= value,
                    "\(rows)×\(columns): singular value \(value) outside \(Self.band)")
            }
        }
    }

    /// One step of a Muon with AdamW beside it, from zero state, against the formulas computed
    /// here in Double: the matrices (a wide and a tall one, inside a layer) by Muon, the embedding
    /// and the norm weight by AdamW at adamw_lr's share of the step's rate.
    func testOneStepAgainstAReference() {
        var random = SeededRandom(seed: 3)
        func parameter(_ name: String, _ shape: [Int], layer: Int?) -> NamedParameter {
            let count = shape.reduce(1, *)
            let tensor = Tensor(
                shape: shape, values: (0..<count).map { _ in Float(random.nextNormal()) }, requiresGrad: true)
            tensor.grad = Tensor(shape: shape, values: (0..<count).map { _ in Float(random.nextNormal()) })
            return NamedParameter(name: name, tensor: tensor, layer: layer, initialization: .normal(std: 1))
        }
        let parameters = [
            parameter("embed", [10, 6], layer: nil), parameter("wide", [4, 6], layer: 0),
            parameter("tall", [9, 6], layer: 0), parameter("norm", [6], layer: 0),
        ]
        let before = parameters.map { $0.tensor.values.map(Double.init) }
        var config = OptimizerConfig()
        (config.name, config.lr, config.adamWLR, config.weightDecay) = (.muon, 0.02, 0.004, 0.1)
        let muon = Muon(parameters: parameters, config: config)
        XCTAssertEqual(muon.matrices.map(\.name), ["wide", "tall"])
        let (rate, scale) = (0.01, Float(0.5))  // the step's scheduled rate, half the peak; a clip factor
        muon.step(learningRate: rate, gradientScale: scale)
        XCTAssertEqual(muon.stepCount, 1)
        for (index, parameter) in parameters.enumerated() {
            let g = parameter.tensor.grad!.values.map { Double($0) * Double(scale) }
            var expected: [Double]
            if Muon.trains(parameter) {
                let (rows, columns) = (parameter.tensor.shape[0], parameter.tensor.shape[1])
                let mu = Double(Muon.momentum)
                let buffer = g.map { (1 - mu) * $0 }  // from a zero buffer
                XCTAssertEqual(
                    muon.momentumBuffers[index - 1].values.map(Double.init), buffer, accuracy: 1e-7, "buffer")
                let update = referenceNewtonSchulz(
                    zip(g, buffer).map { (1 - mu) * $0 + mu * $1 }, rows: rows, columns: columns)
                let stepSize = rate * max(1, Double(rows) / Double(columns)).squareRoot()
                expected = zip(before[index], update).map { $0 * (1 - rate * 0.1) - stepSize * $1 }
            } else {
                // AdamW's first step: m̂ = g, v̂ = g², at rate·adamw_lr/lr; norm weights not decayed
                let adamRate = rate * 0.004 / 0.02, decay = parameter.decays ? 1 - adamRate * 0.1 : 1
                expected = zip(before[index], g).map { $0 * decay - adamRate * $1 / (abs($1) + 1e-8) }
            }
            XCTAssertEqual(parameter.tensor.values.map(Double.init), expected, accuracy: 2e-6, parameter.name)
        }
        XCTAssertEqual(
            muon.stateTensors.map(\.name),
            [
                "embed.exp_avg", "embed.exp_avg_sq", "norm.exp_avg", "norm.exp_avg_sq", "wide.momentum_buffer",
                "tall.momentum_buffer",
            ])
    }

    /// The matrices run in parallel, each on one thread: one thread or two give the same bits.
    func testStepIsTheSameWhateverTheThreads() {
        func run(threads: Int) -> [[Float]] {
            let saved = Parallel.threadCount
            defer { Parallel.threadCount = saved }
            Parallel.threadCount = threads
            var random = SeededRandom(seed: 5)
            let parameters = (0..<6).map { index in
                let shape = index % 2 == 0 ? [16, 24] : [24, 16]
                let tensor = Tensor(
                    shape: shape, values: (0..<384).map { _ in Float(random.nextNormal()) }, requiresGrad: true)
                tensor.grad = Tensor(shape: shape, values: (0..<384).map { _ in Float(random.nextNormal()) })
                return NamedParameter(name: "m\(index)", tensor: tensor, layer: index, initialization: .normal(std: 1))
            }
            var config = OptimizerConfig()
            (config.name, config.lr, config.adamWLR) = (.muon, 0.02, 0.004)
            let muon = Muon(parameters: parameters, config: config)
            for _ in 0..<2 { muon.step(learningRate: 0.02, gradientScale: 1) }
            return parameters.map(\.tensor.values)
        }
        XCTAssertEqual(run(threads: 1), run(threads: 2))
    }

    func testConfigRules() {
        XCTAssertEqual(
            validationError(["optim.name=muon"]),
            "[optim] name = \"muon\" needs adamw_lr, the peak rate of the parameters AdamW trains beside Muon (embeddings, head, norm gains; e.g. 3e-3): optim.lr is Muon's"
        )
        XCTAssertEqual(
            validationError(["optim.adamw_lr=1e-3"]),
            "[optim] adamw_lr applies to name = \"muon\" only (AdamW's rate is optim.lr): remove it or set optim.name = \"muon\""
        )
        XCTAssertEqual(validationError(["optim.name=muon", "optim.adamw_lr=1e-3"]), "accepted")
        XCTAssertEqual(
            validationError(["optim.name=muon", "optim.adamw_lr=1e-3", "optim.mup_base_width=64"]),
            "[optim] mup_base_width applies to name = \"adamw\" only: µParam (simple) scales AdamW's updates, Muon scales its own to each matrix's shape"
        )
        XCTAssertTrue(validationError(["optim.name=sgd"]).contains("optim.name"), validationError(["optim.name=sgd"]))
        XCTAssertTrue(
            validationError(["optim.adamw_lr=-1"]).contains("optim.adamw_lr"), validationError(["optim.adamw_lr=-1"]))
    }

    /// NS₅ in Double with naive products, as `zeropower_via_newtonschulz5` writes it.
    func referenceNewtonSchulz(_ matrix: [Double], rows: Int, columns: Int) -> [Double] {
        let wide = rows <= columns
        let (m, n) = wide ? (rows, columns) : (columns, rows)
        let norm = matrix.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var x = [Double](repeating: 0, count: m * n)
        for i in 0..<rows {
            for j in 0..<columns { x[wide ? i * n + j : j * n + i] = matrix[i * columns + j] / (norm + 1e-7) }
        }
        let (a, b, c) = (
            Double(NewtonSchulz.coefficients.a), Double(NewtonSchulz.coefficients.b),
            Double(NewtonSchulz.coefficients.c)
        )
        for _ in 0..<NewtonSchulz.steps {
            let gram = product(x, transposed(x, m, n), m, n, m)  // X·Xᵀ, [m, m]
            let square = product(gram, gram, m, m, m)
            let poly = zip(gram, square).map { b * $0 + c * $1 }
            x = zip(x, product(poly, x, m, m, n)).map { a * $0 + $1 }
        }
        return wide ? x : transposed(x, m, n)
    }

    /// Singular values of a `[rows, columns]` matrix: square roots of the eigenvalues of its
    /// smaller Gram matrix, by cyclic Jacobi rotations.
    func singularValues(_ matrix: [Double], rows: Int, columns: Int) -> [Double] {
        let wide = rows <= columns
        let (m, n) = wide ? (rows, columns) : (columns, rows)
        let x = wide ? matrix : transposed(matrix, rows, columns)
        var g = product(x, transposed(x, m, n), m, n, m)
        for _ in 0..<50 {
            for p in 0..<m {
                for q in (p + 1)..<m where abs(g[p * m + q]) > 1e-15 {
                    let theta = (g[q * m + q] - g[p * m + p]) / (2 * g[p * m + q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let (cs, sn) = (1 / (t * t + 1).squareRoot(), t / (t * t + 1).squareRoot())
                    for k in 0..<m {  // G ← Jᵀ·G·J: columns, then rows
                        let (gp, gq) = (g[k * m + p], g[k * m + q])
                        (g[k * m + p], g[k * m + q]) = (cs * gp - sn * gq, sn * gp + cs * gq)
                    }
                    for k in 0..<m {
                        let (gp, gq) = (g[p * m + k], g[q * m + k])
                        (g[p * m + k], g[q * m + k]) = (cs * gp - sn * gq, sn * gp + cs * gq)
                    }
                }
            }
        }
        return (0..<m).map { max(0, g[$0 * m + $0]).squareRoot() }
    }

    /// `[r, k] · [k, c]`.
    func product(_ a: [Double], _ b: [Double], _ r: Int, _ k: Int, _ c: Int) -> [Double] {
        var out = [Double](repeating: 0, count: r * c)
        for i in 0..<r {
            for j in 0..<c { out[i * c + j] = (0..<k).reduce(0) { $0 + a[i * k + $1] * b[$1 * c + j] } }
        }
        return out
    }

    /// The transpose of a `[r, c]` matrix.
    func transposed(_ a: [Double], _ r: Int, _ c: Int) -> [Double] {
        (0..<(c * r)).map { index in a[(index % r) * c + index / r] }
    }
}
