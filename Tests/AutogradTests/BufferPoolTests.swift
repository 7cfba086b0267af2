import Autograd
import XCTest

final class BufferPoolTests: XCTestCase {
    /// Without a tape, buffers go back to malloc, including the scratch that kernels take on
    /// other threads (attention's per-unit scores): sampling, whose lengths vary, hoards nothing.
    func testForwardWithoutTapePoolsNothing() {
        let q = randomTensor([2, 40, 8], seed: 1), k = randomTensor([2, 40, 4], seed: 2),
            v = randomTensor([2, 40, 4], seed: 3)
        BufferPool.shared.releaseFreeBuffers()  // nothing left by earlier tests to take
        let before = BufferPool.statistics.bytesHeld
        Tape.withoutGradients {
            for length in [40, 39, 38] {  // a new scratch size each time, on two threads (two units)
                func prefix(_ x: Tensor) -> Tensor {  // positions 0..<length of both batch rows
                    let width = x.shape[2]
                    let rows = (0..<2).flatMap { b in x.values[(b * 40 * width)..<((b * 40 + length) * width)] }
                    return Tensor(shape: [2, length, width], values: rows)
                }
                _ = causalAttention(q: prefix(q), k: prefix(k), v: prefix(v), heads: 2, kvHeads: 1).output
            }
        }
        XCTAssertEqual(BufferPool.statistics.bytesHeld, before)
    }

    /// A buffer returns to the pool it came from, whichever pool the freeing thread uses.
    func testBufferReturnsToItsOwnPool() {
        let pool = BufferPool()
        let storage = BufferPool.withPool(pool) { TensorStorage(count: 5000) }
        let address = storage.pointer
        let allocations = BufferPool.statistics.systemAllocations
        withExtendedLifetime(storage) {}
        _ = consume storage
        let again = BufferPool.withPool(pool) { TensorStorage(count: 5000) }
        XCTAssertEqual(again.pointer, address)
        XCTAssertEqual(BufferPool.statistics.systemAllocations, allocations)
    }
}
