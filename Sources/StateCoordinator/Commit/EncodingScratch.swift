import Synchronization

/// The buffer a store's commits encode their state into, kept between commits: a 16 MiB state
/// encoded into a fresh array each time paid for growing it (32 MiB of new pages, faulted in and
/// copied as it doubled) on every commit. A commit takes it, encodes into it (its capacity kept),
/// and gives it back once nothing else refers to the bytes, so the next commit writes over it.
final class EncodingScratch: Sendable {
    private let buffer = Mutex<[UInt8]>([])

    /// The buffer, emptied of its bytes, not of its capacity; ``giveBack(_:)`` when done.
    func take() -> [UInt8] {
        buffer.withLock { buffer in
            var taken: [UInt8] = []
            swap(&taken, &buffer)
            taken.removeAll(keepingCapacity: true)
            return taken
        }
    }

    /// Keeps `used` for the next commit.
    func giveBack(_ used: consuming [UInt8]) {
        buffer.withLock { $0 = used }
    }
}
