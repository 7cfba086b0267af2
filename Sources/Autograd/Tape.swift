/// Reverse-mode automatic differentiation over a tape.
///
/// Each op that has an input needing a gradient appends a *pullback* to the tape: a closure that
/// reads its output's gradient and adds its inputs' gradients (`+=`, so a tensor used twice, like
/// tied embeddings, receives the sum). `backward()` seeds the loss gradient with 1 and runs the
/// pullbacks newest first — the tape is already a topological order, because an op is recorded
/// after the ops that made its inputs. Only leaves (tensors no recorded op produced, such as
/// parameters) keep their gradient after `backward()`.
///
/// Every thread has its own tape: a forward and its `backward()` must run on the same thread,
/// and two threads can each run one at the same time (batch shards on different cores).
public enum Tape {
    /// One recorded op: where its output's gradient arrives, and the pullback that reads it.
    private struct Entry {
        let outputSlot: GradientSlot
        let category: OpProfile.Category
        let pullback: (_ outputGrad: UnsafeMutablePointer<Float>) -> Void
    }

    /// One thread's tape.
    private final class State {
        /// Recorded ops, in the order they ran.
        var pullbacks: [Entry] = []
        /// Nesting depth of `withoutGradients` blocks; recording is on at depth 0.
        var disabledDepth = 0
    }
    private static let state = ThreadLocal { State() }

    /// Whether ops on this thread record pullbacks right now.
    public static var isRecording: Bool { state.value.disabledDepth == 0 }

    /// Number of pullbacks waiting for `backward()` on this thread.
    public static var count: Int { state.value.pullbacks.count }

    /// Whether an op over `inputs` must record a pullback (and its output require a gradient).
    @inline(__always)
    public static func needsGradient(_ inputs: Tensor...) -> Bool {
        isRecording && inputs.contains { $0.requiresGrad }
    }

    /// Records the pullback of an op whose `output` was just computed. The pullback runs only if
    /// `output` received a gradient, and is handed that gradient.
    /// `category` files the pullback's time in `OpProfile`.
    public static func record(
        _ output: Tensor, _ category: OpProfile.Category = .elementwise,
        _ pullback: @escaping (_ outputGrad: UnsafeMutablePointer<Float>) -> Void
    ) {
        output.requiresGrad = true
        // The slot, not `output`: the output's elements may be freed before backward.
        state.value.pullbacks.append(Entry(outputSlot: output.gradientSlot, category: category, pullback: pullback))
    }

    /// Runs every pullback newest first, dropping each after it ran (and with it what it held
    /// for the backward pass), so memory falls as backward proceeds.
    static func runBackward() {
        let tape = state.value
        while let entry = tape.pullbacks.popLast() {
            guard let grad = entry.outputSlot.gradient else { continue }
            let started = OpProfile.begin()
            entry.pullback(grad.data)
            OpProfile.end(entry.category, started)
            entry.outputSlot.gradient = nil  // an op's output needs its gradient only for its own pullback
        }
    }

    /// Forgets every recorded pullback (e.g. after a forward whose gradient is not wanted).
    public static func reset() { state.value.pullbacks.removeAll(keepingCapacity: true) }

    /// Runs `body` with recording off: evaluation and sampling build no tape.
    public static func withoutGradients<Result>(_ body: () throws -> Result) rethrows -> Result {
        let tape = state.value
        tape.disabledDepth += 1
        defer { tape.disabledDepth -= 1 }
        return try body()
    }
}

extension Tensor {
    /// Back-propagates from this one-element tensor: adds d(self)/d(x) to `x.grad` of every
    /// tensor `x` that requires a gradient and took part in computing it; then clears the tape.
    public func backward() {
        precondition(count == 1, "backward() from a tensor of shape \(shape); reduce it to a scalar first")
        gradData().pointee += 1
        Tape.runBackward()
    }
}
