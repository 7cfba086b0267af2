// qklab-mpi-check: the multi-process test of Multiprocess, run by scripts/mpi_test.sh under
// `mpirun -np N` (N = 1, 2, 4; shared memory and TCP). Every process checks; any mismatch ends
// the job with one line and a non-zero status.
//
//   qklab-mpi-check                    the checks: shim symbols, shard-order sums, scalars, hosts
//   qklab-mpi-check --fail-on-rank R   process R throws while the others wait in a barrier
//   qklab-mpi-check --time-exchange P  times the gradient exchange of P floats per shard, one
//                                      shard per process (the benchmark of scripts/mpi_bench.sh)
#if MPI
    import CMPI
#endif
import Foundation
import Multiprocess

/// `body`'s value, or exit status 1 with one line (a job of one process rethrows its errors).
func orExit<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch {
        FileHandle.standardError.write(Data("qklab-mpi-check: \(error)\n".utf8))
        exit(1)
    }
}

let group = orExit { try ProcessGroup.start() }

func require(_ condition: Bool, _ what: @autoclosure () -> String) {
    if !condition { group.abort("check failed: \(what())") }
}

/// SplitMix64: the same values on every process for the same seed.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Shard `shard`'s test gradient: signs and magnitudes from 1e-4 to 1e4, so that the order of
/// the sum shows in the last bits.
func testGradient(shard: Int, count: Int) -> [Float] {
    var random = SplitMix64(state: UInt64(shard) &* 7919 &+ 1)
    return (0..<count).map { _ in
        let bits = random.next()
        let magnitude = Float(pow(10, Double(bits % 9) - 4))
        return (bits & (1 << 40) == 0 ? 1 : -1) * magnitude * Float(bits >> 41) / Float(1 << 23)
    }
}

func bits(_ values: some Collection<Float>) -> [UInt32] { values.map(\.bitPattern) }

/// Shard counts from N to 4N + 3: the exchanged sum equals one process's sum bit for bit, and
/// from 3 shards on differs from the reversed order (so the comparison can see an order change;
/// two addends commute exactly).
func checkShardOrderSum() throws -> String {
    let count = 1037
    var checked: [Int] = []
    for shards in [group.size, group.size + 1, 2 * group.size + 1, 4 * group.size + 3] {
        let exchange = try ShardExchange<Float>(
            group: group, layout: ShardLayout(shards: shards, processes: group.size), count: count)
        for shard in exchange.localShards {
            let gradient = testGradient(shard: shard, count: count)
            exchange.withLocalBuffer(of: shard) { _ = $0.initialize(from: gradient) }
        }
        exchange.exchange()
        var combined = [Float](repeating: .nan, count: count)
        combined.withUnsafeMutableBufferPointer { exchange.sumInShardOrder(into: $0) }
        let reference = (1..<shards).reduce(testGradient(shard: 0, count: count)) { sum, shard in
            zip(sum, testGradient(shard: shard, count: count)).map { $0 + $1 }
        }
        let reversed = (0..<shards).reversed().dropFirst().reduce(testGradient(shard: shards - 1, count: count)) {
            sum, shard in
            zip(sum, testGradient(shard: shard, count: count)).map { $0 + $1 }
        }
        require(bits(combined) == bits(reference), "\(shards) shards: the exchanged sum differs from one process's")
        require(
            shards < 3 || bits(combined) != bits(reversed),
            "\(shards) shards: the test data does not show the order of the sum")
        for shard in 0..<shards {
            require(
                bits(exchange.buffer(of: shard)) == bits(testGradient(shard: shard, count: count)),
                "shard \(shard) after exchange")
        }
        checked.append(shards)
    }
    return "shard-order sum bit-identical for S = \(checked.map(String.init).joined(separator: ", "))"
}

func checkScalarsAndHosts() -> String {
    let ranks = group.allgather(Double(group.rank) + 0.5)
    require(ranks == (0..<group.size).map { Double($0) + 0.5 }, "allgather gave \(ranks)")
    let root = group.size - 1
    let broadcast = group.broadcast([Double(group.rank) * 1.5, -0.0, .infinity], from: root)
    require(
        broadcast[0] == Double(root) * 1.5 && broadcast[1].sign == .minus && broadcast[2] == .infinity,
        "broadcast from \(root) gave \(broadcast)")
    let hosts = group.hosts()
    require(hosts.count == group.size && hosts[group.rank] == group.hostname, "hosts \(hosts), mine \(group.hostname)")
    group.barrier()
    return "allgather, broadcast, barrier; hosts \(Set(hosts).sorted().joined(separator: ","))"
}

#if MPI
    /// Each accessor of Sources/CMPI/shim.h against what MPI reports about it (MPI runs only when a
    /// launcher started this process).
    func checkShim() -> String {
        guard LaunchEnvironment.launcher(in: ProcessInfo.processInfo.environment) != nil else {
            return "shim: not started by mpirun"
        }
        return checkShimSymbols()
    }

    /// Each accessor of Sources/CMPI/shim.h against what MPI reports about it.
    func checkShimSymbols() -> String {
        var size: Int32 = 0
        MPI_Comm_size(qk_mpi_comm_world(), &size)
        require(Int(size) == group.size, "MPI_COMM_WORLD has \(size) processes, the group \(group.size)")
        require(
            ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"].flatMap { Int($0) } ?? group.size == group.size,
            "OMPI_COMM_WORLD_SIZE disagrees with MPI_COMM_WORLD")
        for (name, type, bytes) in [
            ("MPI_FLOAT", qk_mpi_float(), 4), ("MPI_DOUBLE", qk_mpi_double(), 8), ("MPI_CHAR", qk_mpi_char(), 1),
        ] {
            var typeSize: Int32 = 0
            require(
                MPI_Type_size(type, &typeSize) == MPI_SUCCESS && typeSize == bytes,
                "\(name) has \(typeSize) bytes, not \(bytes)")
        }
        require(qk_mpi_in_place() == UnsafeMutableRawPointer(bitPattern: 1), "MPI_IN_PLACE is not (void *) 1")
        var handler: MPI_Errhandler? = nil
        MPI_Comm_get_errhandler(qk_mpi_comm_world(), &handler)
        require(handler == qk_mpi_errors_return(), "MPI_COMM_WORLD's error handler is not MPI_ERRORS_RETURN")
        // An erroneous call returns its error instead of ending the job (MPI_ERRORS_RETURN at work).
        require(
            MPI_Bcast(nil, -1, qk_mpi_double(), 0, qk_mpi_comm_world()) != MPI_SUCCESS, "a negative count was accepted")
        return "shim: MPI_COMM_WORLD, MPI_FLOAT, MPI_DOUBLE, MPI_CHAR, MPI_IN_PLACE, MPI_ERRORS_RETURN"
    }
#else
    func checkShim() -> String { "shim: not built (no trait MPI)" }
#endif

/// The gradient exchange alone (no training): one shard of `count` floats per process, a
/// barrier before each of 25 timed exchanges (5 more untimed first), so that each time is the
/// transfer and not a wait for a slower process. Also times the shard-order sum.
func timeExchange(count: Int) throws -> String {
    let exchange = try ShardExchange<Float>(
        group: group, layout: ShardLayout(shards: group.size, processes: group.size), count: count)
    exchange.withLocalBuffer(of: group.rank) { $0.initialize(repeating: Float(group.rank)) }
    var sum = [Float](repeating: 0, count: count)
    var exchangeTimes: [Double] = [], sumTimes: [Double] = []
    for round in 0..<30 {
        group.barrier()
        let start = DispatchTime.now().uptimeNanoseconds
        exchange.exchange()
        let exchanged = DispatchTime.now().uptimeNanoseconds
        sum.withUnsafeMutableBufferPointer { exchange.sumInShardOrder(into: $0) }
        let summed = DispatchTime.now().uptimeNanoseconds
        if round >= 5 {
            exchangeTimes.append(Double(exchanged - start) / 1e6)
            sumTimes.append(Double(summed - exchanged) / 1e6)
        }
    }
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    let megabytes = Double(count * 4) / 1e6
    return String(
        format: "%d processes, %d floats (%.2f MB) per shard: exchange median %.3f ms (min %.3f, max %.3f), "
            + "%.0f MB/s received per process; shard-order sum %.3f ms",
        group.size, count, megabytes, median(exchangeTimes), exchangeTimes.min()!, exchangeTimes.max()!,
        megabytes * Double(group.size - 1) / (median(exchangeTimes) / 1000), median(sumTimes))
}

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.count == 2, arguments[0] == "--fail-on-rank", let failing = Int(arguments[1]) {
    struct SimulatedFailure: Error, CustomStringConvertible {
        var description: String {
            "cannot read corpus /nonexistent/corpus.txt (simulated: readable on other hosts only)"
        }
    }
    orExit {
        try group.failingTogether { if group.rank == failing { throw SimulatedFailure() } }
    }
    group.barrier()  // the others wait here; the failing process's abort must end them
    group.abort("process \(failing) failed but the job went on")
} else if arguments.count == 2, arguments[0] == "--time-exchange", let count = Int(arguments[1]), count > 0 {
    let report = orExit { try group.failingTogether { try timeExchange(count: count) } }
    if group.rank == 0 { print("qklab-mpi-check: \(report)") }
    group.finish()
} else if arguments.isEmpty {
    let report = [checkShim(), orExit { try group.failingTogether(checkShardOrderSum) }, checkScalarsAndHosts()]
    if group.rank == 0 {
        print(
            "qklab-mpi-check: \(group.size == 1 ? "1 process" : "\(group.size) processes"): "
                + report.joined(separator: "; ") + ": ok")
    }
    group.finish()
} else {
    FileHandle.standardError.write(Data("usage: qklab-mpi-check [--fail-on-rank R | --time-exchange FLOATS]\n".utf8))
    exit(2)
}
