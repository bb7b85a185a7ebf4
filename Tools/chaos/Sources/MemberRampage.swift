import Foundation
import ToolEtcd

/// The etcd side of the rampage: one member at a time is killed (SIGKILL) every 3–8 s and
/// started again 1–3 s later, so that a majority always remains and writers meet failovers,
/// lost answers and leader elections.
struct MemberRampage {
    private var nextKill = Date().addingTimeInterval(Double.random(in: 3...8))
    private var down: (index: Int, until: Date)?
    /// Members killed so far.
    private(set) var kills = 0

    mutating func step(_ cluster: LocalEtcdCluster, generator: inout SystemRandomNumberGenerator) throws {
        let now = Date()
        if let down, now >= down.until {
            try cluster.start(down.index)
            self.down = nil
            nextKill = now.addingTimeInterval(Double.random(in: 3...8, using: &generator))
        } else if down == nil, now >= nextKill, cluster.members.count > 1 {
            let index = Int.random(in: 0..<cluster.members.count, using: &generator)
            cluster.kill(index)
            kills += 1
            down = (index, now.addingTimeInterval(Double.random(in: 1...3, using: &generator)))
        }
    }
}
