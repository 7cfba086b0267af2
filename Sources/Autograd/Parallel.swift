import Dispatch
import Foundation

/// Splitting per-row work across cores.
///
/// Kernels call `Parallel.forEachChunk` from the calling thread only, never from inside a BLAS
/// call; OpenBLAS itself runs on the thread that calls it (see `BLAS`), so chunks that multiply
/// matrices (the attention kernel, batch shards) never oversubscribe the cores.
///
/// A `forEachChunk` called from inside a chunk runs on its own thread, in one piece: the other
/// cores are busy with the other chunks already (a batch shard's kernels run this way). Chunks
/// run in their caller's context: with its buffer pool, and recording or not as it is (so the
/// scratch buffers of a sampling forward pass are freed, not pooled).
public enum Parallel {
    /// Worker threads for elementwise and per-row kernels (default: all cores).
    nonisolated(unsafe) public static var threadCount = max(1, System.coreCount)

    /// Whether this thread is running a chunk.
    private final class ChunkFlag { var isInsideChunk = false }
    private static let chunkFlag = ThreadLocal { ChunkFlag() }

    /// Calls `body` on disjoint contiguous ranges covering `0..<count`, concurrently when there
    /// are at least `2 · grain` items (a chunk smaller than `grain` items costs more to dispatch
    /// than it saves). Each item must be independent of the others, so the result never depends
    /// on how the range was split.
    @inline(__always)
    public static func forEachChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        let chunks = min(threadCount, count / max(grain, 1))
        if chunks <= 1 || chunkFlag.value.isInsideChunk {
            if count > 0 { body(0..<count) }
            return
        }
        let (pool, recording) = (BufferPool.current, Tape.isRecording)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            SubnormalFlush.applyToThisThread()
            let flag = chunkFlag.value
            flag.isInsideChunk = true
            defer { flag.isInsideChunk = false }
            let range = (chunk * count / chunks)..<((chunk + 1) * count / chunks)
            BufferPool.withPool(pool) {
                if recording { body(range) } else { Tape.withoutGradients { body(range) } }
            }
        }
    }
}

/// Facts about the machine.
public enum System {
    /// Logical cores available to this process.
    public static var coreCount: Int { ProcessInfo.processInfo.activeProcessorCount }
}
