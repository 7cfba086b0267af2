import Autograd
import Training
import Transformer
import XCTest

/// `Generation.generate` (key/value cache) against `Generation.generateRecomputing` (a full
/// forward over the context for every token), on tiny models with order-1 weights.
final class GenerationCacheTests: XCTestCase {
    /// A tiny model (V=11, T=12, d=16, 2 layers) in the given layout, its weights redrawn at
    /// order 1 so that logits are far apart and every layer matters.
    func tinyModel(
        blockNorm: ModelConfig.BlockNorm = .pre, qkNorm: ModelConfig.QKNorm = .head,
        position: ModelConfig.Position = .rope, mlp: ModelConfig.MLP = .swiglu, kvHeads: Int? = nil
    ) throws -> TransformerModel {
        var config = ModelConfig()
        (config.vocabSize, config.blockSize, config.dModel, config.nLayer, config.nHead, config.nKVHead) = (
            11, 12, 16, 2, 4, kvHeads
        )
        (config.blockNorm, config.qkNorm, config.position, config.mlp) = (blockNorm, qkNorm, position, mlp)
        let model = try TransformerModel(config: config)
        var random = SeededRandom(seed: 21)
        for parameter in model.parameters {
            let isNorm = parameter.initialization == .ones
            for i in 0..<parameter.tensor.count {
                parameter.tensor.data[i] = Float(random.nextNormal(mean: isNorm ? 1 : 0, std: isNorm ? 0.2 : 0.4))
            }
        }
        return model
    }

    func options(tokens: Int, temperature: Double, topK: Int = 0, seed: UInt64 = 0) -> GenerationOptions {
        var options = GenerationOptions()
        (options.tokens, options.temperature, options.topK, options.seed) = (tokens, temperature, topK, seed)
        return options
    }

    /// Within block_size: the same greedy text, and the same sampled text from the same seed
    /// (temperature 0.8, with and without top-k), in both block layouts, both position kinds,
    /// every qk_norm, both MLPs and grouped-query attention.
    func testSameTextAsRecomputingWithinBlockSize() throws {
        let models = try [
            tinyModel(), tinyModel(qkNorm: .off, position: .learned),
            tinyModel(blockNorm: .post, qkNorm: .full, mlp: .gelu),
            tinyModel(blockNorm: .post, position: .learned, kvHeads: 2), tinyModel(qkNorm: .full, kvHeads: 1),
        ]
        for (index, model) in models.enumerated() {
            let prompt: [Int32] = [3, 1, 4]  // 3 + 9 = block_size
            for options in [
                options(tokens: 9, temperature: 0), options(tokens: 9, temperature: 0.8, seed: 5),
                options(tokens: 9, temperature: 0.8, topK: 3, seed: 6),
            ] {
                let cached = Generation.generate(model: model, prompt: prompt, options: options)
                XCTAssertEqual(cached.count, 9)
                XCTAssertEqual(
                    cached, Generation.generateRecomputing(model: model, prompt: prompt, options: options),
                    "model \(index), temperature \(options.temperature), top-k \(options.topK)")
            }
        }
    }

    /// The greedy text differs between the models above (a test of equality that cannot pass
    /// by every model producing the same text).
    func testGreedyTextDependsOnTheModel() throws {
        let greedy = options(tokens: 9, temperature: 0)
        let first = Generation.generate(model: try tinyModel(), prompt: [3, 1, 4], options: greedy)
        let second = Generation.generate(
            model: try tinyModel(qkNorm: .off, position: .learned), prompt: [3, 1, 4], options: greedy)
        XCTAssertNotEqual(first, second)
        XCTAssertGreaterThan(Set(first).count, 1)
    }

    /// Beyond block_size, greedy generation follows `GenerationContext`'s documented window:
    /// the prompt's last T ids, then on each overflow the newest ⌈T/2⌉ ids, every choice the
    /// argmax of a full forward over that window. The reference below rebuilds the rule from
    /// full forwards only.
    func testBeyondBlockSizeFollowsTheDocumentedWindow() throws {
        for position in ModelConfig.Position.allCases {
            let model = try tinyModel(position: position)
            let blockSize = model.config.blockSize, vocabulary = model.config.vocabSize
            let prompt: [Int32] = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9, 0]  // longer than block_size (12)
            let cached = Generation.generate(model: model, prompt: prompt, options: options(tokens: 40, temperature: 0))
            var window = Array(prompt.suffix(blockSize)), reference: [Int32] = []
            while reference.count < 40 {
                let logits = Tape.withoutGradients {
                    model.forward(tokens: window, batch: 1, length: window.count).logits.values
                }
                let last = Array(logits.suffix(vocabulary))
                let next = Int32(last.firstIndex(of: last.max()!)!)  // greedy: the first largest logit
                reference.append(next)
                window =
                    window.count < blockSize ? window + [next] : Array((window + [next]).suffix((blockSize + 1) / 2))
            }
            XCTAssertEqual(cached, reference, "\(position)")
        }
    }

    /// `onToken` sees every id as it is drawn, in order; no tokens asked, none given.
    func testOnTokenStreamsEveryIdInOrder() throws {
        let model = try tinyModel()
        var streamed: [Int32] = []
        let generated = Generation.generate(
            model: model, prompt: [1], options: options(tokens: 30, temperature: 0.8, seed: 2)
        ) {
            streamed.append($0)
        }
        XCTAssertEqual(generated.count, 30)
        XCTAssertEqual(streamed, generated)
        XCTAssertEqual(
            Generation.generate(model: model, prompt: [1], options: options(tokens: 0, temperature: 0.8)) { _ in
                XCTFail("no token was asked for")
            }, [])
    }
}
