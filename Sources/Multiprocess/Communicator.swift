import Foundation

/// The collective operations a `ProcessGroup` needs, over all processes of a job. Every process
/// calls each operation in the same order with the same counts (MPI's rule for collectives).
/// An operation that fails ends the whole job (it does not return).
protocol Communicator: AnyObject {
    /// This process's index, 0..<size.
    var rank: Int { get }
    /// Number of processes in the job.
    var size: Int { get }
    /// The host this process runs on.
    var processorName: String { get }
    /// Waits until every process has called it.
    func barrier()
    /// Every process's `counts[rank]` numbers, concatenated in rank order into `buffer` (of
    /// `counts.reduce(0, +)` numbers), on every process. This process's part must already be in
    /// place at `counts[..<rank].reduce(0, +)`.
    func allgatherInPlace<Number: ExchangedNumber>(_ buffer: UnsafeMutableBufferPointer<Number>, counts: [Int])
    /// One value from every process, in rank order.
    func allgather(_ value: Double) -> [Double]
    /// One host name from every process (at most MPI_MAX_PROCESSOR_NAME bytes), in rank order.
    func allgather(_ hostname: String) -> [String]
    /// `values` of process `root`, on every process (all pass the same count).
    func broadcast(_ values: [Double], from root: Int) -> [Double]
    /// Ends every process of the job with exit status `code`.
    func abort(code: Int32) -> Never
    /// Leaves the job (MPI_Finalize); no operation may follow.
    func finish()
}

/// A job of one process: the collectives are copies, `abort` exits.
final class SingleProcess: Communicator {
    let processorName: String
    init(processorName: String) { self.processorName = processorName }
    var rank: Int { 0 }
    var size: Int { 1 }
    func barrier() {}
    func allgatherInPlace<Number: ExchangedNumber>(_ buffer: UnsafeMutableBufferPointer<Number>, counts: [Int]) {}
    func allgather(_ value: Double) -> [Double] { [value] }
    func allgather(_ hostname: String) -> [String] { [hostname] }
    func broadcast(_ values: [Double], from root: Int) -> [Double] { values }
    func abort(code: Int32) -> Never { exit(code) }
    func finish() {}
}
