import Synchronization

/// The writer locks this process holds, and on which thread, so that an update started from
/// inside another update's mutation on the same store fails at once instead of waiting on a
/// lock its own thread holds (flock locks of two descriptors of one process exclude each other).
final class HeldLocks: Sendable {
    /// The process-wide registry.
    static let shared = HeldLocks()

    /// A lock is known by its lockfile's identity.
    typealias Key = FileIdentity

    private let holders = Mutex<[Key: ThreadIdentity]>([:])

    /// Whether the calling thread holds the lock on this lockfile.
    func heldByCurrentThread(_ key: Key) -> Bool {
        holders.withLock { $0[key] == .current }
    }

    func register(_ key: Key) {
        holders.withLock { $0[key] = .current }
    }

    func unregister(_ key: Key) {
        _ = holders.withLock { $0.removeValue(forKey: key) }
    }
}
