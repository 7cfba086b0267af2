import Multiprocess
import Training

/// The processes of an `mpirun` job as the trainer's `TrainingJob`: Multiprocess's contiguous
/// shard layout and in-place gathers, the hosts gathered once (a collective: every process
/// creates it at the same point).
final class ProcessGroupJob: TrainingJob {
    let group: ProcessGroup
    let hosts: [String]

    init(group: ProcessGroup) {
        self.group = group
        hosts = group.hosts()
    }

    var rank: Int { group.rank }
    var processCount: Int { group.size }

    func gradientExchange(shards: Int, count: Int) throws -> any GradientExchange {
        try ShardExchange<Float>(group: group, layout: ShardLayout(shards: shards, processes: group.size), count: count)
    }

    func numberExchange(shards: Int, count: Int) throws -> any ShardBuffers<Double> {
        try ShardExchange<Double>(
            group: group, layout: ShardLayout(shards: shards, processes: group.size), count: count)
    }

    func broadcastFromFirst(_ values: [Double]) -> [Double] { group.broadcast(values, from: 0) }

    func barrier() { group.barrier() }
}

extension ShardExchange: ShardBuffers {}
extension ShardExchange: GradientExchange where Number == Float {}
