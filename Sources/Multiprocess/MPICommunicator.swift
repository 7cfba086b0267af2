#if MPI
    import CMPI
    import Foundation

    /// The job's processes through Open MPI (MPI_COMM_WORLD). MPI calls return their errors
    /// (MPI_ERRORS_RETURN) so that a failure prints one line naming the call and this process before
    /// MPI_Abort ends the job, instead of Open MPI's multi-line report. Only the thread that created
    /// it may call it (MPI_THREAD_FUNNELED).
    final class MPICommunicator: Communicator {
        let rank: Int
        let size: Int
        let processorName: String

        /// MPI_Init_thread; throws when Open MPI cannot start (the message is MPI's).
        ///
        /// A process waiting in a collective yields its core instead of spinning
        /// (`mpi_yield_when_idle`, unless the user set it): Open MPI's spinning default assumes a core
        /// per process, but a waiting QKLab process shares its machine with other processes' shard
        /// threads, and on a shared machine spinning made `-np 2` run at 0.37 of one process's speed
        /// instead of 0.86 (docs/distributed.md).
        init() throws {
            setenv("OMPI_MCA_mpi_yield_when_idle", "1", 0)
            var provided: Int32 = 0
            let status = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
            guard status == MPI_SUCCESS else {
                throw MultiprocessError("MPI_Init_thread failed: \(Self.errorString(status))")
            }
            MPI_Comm_set_errhandler(qk_mpi_comm_world(), qk_mpi_errors_return())
            var value: Int32 = 0
            MPI_Comm_rank(qk_mpi_comm_world(), &value)
            rank = Int(value)
            MPI_Comm_size(qk_mpi_comm_world(), &value)
            size = Int(value)
            var name = [CChar](repeating: 0, count: Int(MPI_MAX_PROCESSOR_NAME) + 1)
            var length: Int32 = 0
            MPI_Get_processor_name(&name, &length)
            processorName = Self.string(name[...])
        }

        func barrier() {
            check(MPI_Barrier(qk_mpi_comm_world()), "MPI_Barrier")
        }

        func allgatherInPlace<Number: ExchangedNumber>(_ buffer: UnsafeMutableBufferPointer<Number>, counts: [Int]) {
            precondition(
                counts.count == size && counts.reduce(0, +) == buffer.count, "allgather counts do not match the buffer")
            guard let counts32 = Self.int32s(counts), let displacements = Self.int32s(Self.offsets(counts)) else {
                abort("allgather of \(buffer.count) numbers exceeds MPI's 2^31 − 1 element limit")
            }
            let type = Number.kind == .float ? qk_mpi_float() : qk_mpi_double()
            check(
                MPI_Allgatherv(
                    qk_mpi_in_place(), 0, type, buffer.baseAddress, counts32, displacements,
                    type, qk_mpi_comm_world()), "MPI_Allgatherv")
        }

        func allgather(_ value: Double) -> [Double] {
            var value = value
            var values = [Double](repeating: 0, count: size)
            check(
                MPI_Allgather(&value, 1, qk_mpi_double(), &values, 1, qk_mpi_double(), qk_mpi_comm_world()),
                "MPI_Allgather")
            return values
        }

        func allgather(_ hostname: String) -> [String] {
            let width = Int(MPI_MAX_PROCESSOR_NAME)
            var mine = [CChar](repeating: 0, count: width)
            for (index, byte) in hostname.utf8.prefix(width - 1).enumerated() { mine[index] = CChar(bitPattern: byte) }
            var all = [CChar](repeating: 0, count: width * size)
            check(
                MPI_Allgather(
                    &mine, Int32(width), qk_mpi_char(), &all, Int32(width), qk_mpi_char(), qk_mpi_comm_world()),
                "MPI_Allgather")
            return (0..<size).map { Self.string(all[($0 * width)..<(($0 + 1) * width)]) }
        }

        func broadcast(_ values: [Double], from root: Int) -> [Double] {
            var values = values
            check(
                MPI_Bcast(&values, Int32(values.count), qk_mpi_double(), Int32(root), qk_mpi_comm_world()), "MPI_Bcast")
            return values
        }

        func abort(code: Int32) -> Never {
            MPI_Abort(qk_mpi_comm_world(), code)
            exit(code)  // MPI_Abort does not return; this satisfies the type checker
        }

        func finish() {
            check(MPI_Finalize(), "MPI_Finalize")
        }

        /// Ends the job with one line when an MPI call failed.
        private func check(_ status: Int32, _ call: String) {
            if status != MPI_SUCCESS { abort("\(call) failed: \(Self.errorString(status))") }
        }

        private func abort(_ message: String) -> Never {
            printFailure(message, rank: rank, size: size, host: processorName)
            abort(code: 1)
        }

        private static func errorString(_ status: Int32) -> String {
            var text = [CChar](repeating: 0, count: Int(MPI_MAX_ERROR_STRING) + 1)
            var length: Int32 = 0
            MPI_Error_string(status, &text, &length)
            return string(text[...])
        }

        /// The C string at the start of `characters` (up to its first NUL).
        private static func string(_ characters: ArraySlice<CChar>) -> String {
            String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }

        static func offsets(_ counts: [Int]) -> [Int] {
            counts.reduce(into: [0]) { $0.append($0.last! + $1) }.dropLast()
        }

        static func int32s(_ values: [Int]) -> [Int32]? {
            values.allSatisfy { $0 <= Int(Int32.max) } ? values.map { Int32($0) } : nil
        }
    }
#endif
