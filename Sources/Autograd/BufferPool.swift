import Foundation

/// Free tensor buffers by element count, for reuse.
///
/// Every buffer freed while a tape records (training) is kept instead of freed, so a step that
/// repeats the shapes of the step before takes all of its tensor memory from the pool. Without
/// a tape (sampling, evaluation) shapes vary — generation grows its context one token at a time —
/// and buffers go straight back to malloc.
///
/// A buffer returns to the pool it came from, whichever thread frees it. Threads take from the
/// shared pool, or from the pool `withPool` installs: each batch shard has its own, so a shard's
/// demand is the same sequence every step and, after the first, met entirely from its pool —
/// whatever the order in which two shards running at once happen to take and free buffers.
public final class BufferPool: @unchecked Sendable {
    private var free: [Int: FreeList] = [:]
    private let lock = NSLock()

    /// The free buffers of one element count. A class, so that taking and giving change its array
    /// in place: a dictionary's array value, changed through the subscript, allocated on most
    /// calls (measured: 60% of all `malloc` calls of a training step).
    private final class FreeList {
        var buffers: [UnsafeMutablePointer<Float>] = []
    }

    public init() {}

    deinit { releaseFreeBuffers() }

    /// The pool threads use outside `withPool`.
    public static let shared = BufferPool()

    /// This thread's pool: the one `withPool` installed, or `shared`.
    public static var current: BufferPool { installed.value.pool ?? shared }

    private final class Installed { var pool: BufferPool? }
    private static let installed = ThreadLocal { Installed() }

    /// Runs `body` with new buffers on this thread taken from `pool`.
    public static func withPool<Result>(_ pool: BufferPool, _ body: () throws -> Result) rethrows -> Result {
        let slot = installed.value, previous = slot.pool
        slot.pool = pool
        defer { slot.pool = previous }
        return try body()
    }

    /// Frees every buffer this pool holds (e.g. between two models whose shapes differ).
    public func releaseFreeBuffers() {
        lock.lock()
        defer { lock.unlock() }
        for (count, list) in free {
            for buffer in list.buffers { buffer.deallocate() }  // free(), as posix_memalign needs
            Self.count(bytes: -byteCount(count) * list.buffers.count, newAllocation: false)
        }
        free = [:]
    }

    func take(count: Int) -> UnsafeMutablePointer<Float> {
        lock.lock()
        let reused = free[count]?.buffers.popLast()
        lock.unlock()
        if let reused { return reused }
        Self.count(bytes: byteCount(count), newAllocation: true)
        var raw: UnsafeMutableRawPointer?
        let status = posix_memalign(&raw, 64, byteCount(count))
        guard status == 0, let raw else { Self.outOfMemory(bytes: byteCount(count), status: status) }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Ends the process with one line when the system refuses a tensor's memory (the Swift
    /// runtime would abort with a backtrace). No caller could go on without the tensor, and
    /// the run's files stay as they were at its last checkpoint. `_exit`, not `exit`: other
    /// threads may be computing, and must not see the process torn down under them.
    private static func outOfMemory(bytes: Int, status: Int32) -> Never {
        let gigabytes = String(format: "%.2f", Double(bytes) / 1e9)
        let line =
            "qklab: out of memory: cannot allocate \(gigabytes) GB (\(bytes) bytes) for a tensor "
            + "(\(String(cString: strerror(status)))); a smaller model, batch_size or block_size needs less\n"
        FileHandle.standardError.write(Data(line.utf8))
        fflush(stdout)
        _exit(1)
    }

    func give(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        guard Tape.isRecording else {
            Self.count(bytes: -byteCount(count), newAllocation: false)
            return buffer.deallocate()
        }
        lock.lock()
        if let list = free[count] {
            list.buffers.append(buffer)
        } else {
            let list = FreeList()
            list.buffers.append(buffer)
            free[count] = list
        }
        lock.unlock()
    }

    private func byteCount(_ count: Int) -> Int { max(count, 1) * 4 }

    // MARK: Statistics, over all pools

    /// Counters for the benchmark.
    public struct Statistics {
        /// Buffers allocated from the system so far (pool misses).
        public var systemAllocations = 0
        /// Bytes of tensor buffers allocated from the system and not freed (in use or pooled).
        public var bytesHeld = 0
        /// The largest `bytesHeld` so far.
        public var peakBytesHeld = 0
    }

    nonisolated(unsafe) private static var counters = Statistics()
    private static let countersLock = NSLock()

    /// The counters now.
    public static var statistics: Statistics {
        countersLock.lock()
        defer { countersLock.unlock() }
        return counters
    }

    private static func count(bytes: Int, newAllocation: Bool) {
        countersLock.lock()
        defer { countersLock.unlock() }
        if newAllocation { counters.systemAllocations += 1 }
        counters.bytesHeld += bytes
        counters.peakBytesHeld = max(counters.peakBytesHeld, counters.bytesHeld)
    }
}
