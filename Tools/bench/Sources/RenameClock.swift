import Synchronization
@_spi(FaultInjection) import StateCoordinator

/// The realtime just before each rename of a writer's commits (index = version; version 0,
/// the store's creation, was not renamed by the writer): the start of every latency measured.
final class RenameClock: Sendable {
    private let times = Mutex<[Int64]>([0])

    /// `options` with the rename recorded.
    func recording(_ options: StateStoreOptions) -> StateStoreOptions {
        var options = options
        options.systemCalls = options.systemCalls.intercepting(before: { [self] name in
            if name == .rename { times.withLock { $0.append(Clock.realtime()) } }
        })
        return options
    }

    var sent: [Int64] { times.withLock { $0 } }
}

extension ChildProcess {
    /// The "<version> <realtime ns>" lines of a reader that ended (a C floor reader's output).
    func deliveries() throws -> [(version: Int, at: Int64)] {
        try lines().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let version = Int(fields[0]), version > 0, let at = Int64(fields[1]) else { return nil }
            return (version, at)
        }
    }
}
