import Glibc
import StateJSON
import SystemPackage

/// The lock holder's work on the queue in one lock hold (<doc:OnDiskProtocol>, "Combining"):
/// settle the claims a holder that died left, answer or withdraw this process's own published
/// updates, and take the requests others published, as updates of this commit.
struct QueueRound<State: Codable & Sendable> {
    let queue: MutationQueue
    /// The base version the requests are claimed at.
    let base: UInt64
    /// Requests waiting after the claims were settled, in publishing order.
    private var waiting: [String]

    /// The most requests one commit takes: the header lists each one's ID.
    static var maximumTaken: Int { 256 }

    /// Opens the store's queue, if it has one, lists it and settles every claim in it: any claim
    /// there is a dead (or lock-lost) holder's, since claims are made with the lock, which we hold.
    static func begin(
        directory: StoreDirectory, handle: StoreHandle, current: StateFileHeader, storeMode: UInt32, storeGroup: UInt32
    ) throws(StateStoreError) -> QueueRound? {
        guard let queue = try directory.mutationQueue(storeMode: storeMode, storeGroup: storeGroup) else { return nil }
        let entries = try queue.entries()
        var round = QueueRound(queue: queue, base: current.version, waiting: [])
        for entry in entries {
            switch entry {
            case .request(let id):
                round.waiting.append(id)
            case .claim(let id, let base):
                if queue.isAnswered(id) {
                    // Answered before its holder died; only the claim was left.
                    try? queue.calls.unlink(queue.descriptor, entry.name, false)
                    continue
                }
                switch ClaimSettlement.decide(id: id, base: base, current: current, kept: { handle.keptHeader(version: $0, directory: directory.descriptor) }) {
                case .committed:
                    queue.answerCommitted(id, base: base, store: directory.descriptor, stateFile: handle.files.stateFile)
                case .notCommitted:
                    queue.unclaim(id, base: base)
                    round.waiting.append(id)
                case .unknown(let reason):
                    handle.options.logger.warning(
                        "a combined update's outcome cannot be told", metadata: ["store": "\(handle.stateFilePath)", "request": "\(id)", "reason": "\(reason)"])
                    queue.answer(id, base: base, with: .unknown(reason))
                }
            case .answering(let id, let base):
                // Its holder died while answering: the answer may be written, and collected by
                // its waiter already, so it is never queued again. Committed, it is answered so;
                // otherwise (a refusal whose answer was lost, or one collected) as unknown.
                if queue.isAnswered(id) {
                    try? queue.calls.unlink(queue.descriptor, entry.name, false)
                    continue
                }
                guard let answers = queue.answers(for: id, creating: true) else { continue }
                switch ClaimSettlement.decide(id: id, base: base, current: current, kept: { handle.keptHeader(version: $0, directory: directory.descriptor) }) {
                case .committed:
                    queue.linkDone(id, base: base, answers: answers.descriptor, store: directory.descriptor, stateFile: handle.files.stateFile)
                case .notCommitted, .unknown:
                    queue.answer(id, base: nil, with: .unknown("its holder died while answering it"))
                    try? queue.calls.unlink(queue.descriptor, entry.name, false)
                }
            case .temp, .done, .failed, .failedTemp, .answers:
                continue
            }
        }
        round.waiting.sort()
        queue.sweep(entries)
        return round
    }

    /// Settles this process's own published updates: each answered meanwhile is answered now;
    /// each still waiting is withdrawn, to be committed by this holder as its own. Returns the
    /// updates left to commit.
    mutating func settleOwn(_ batch: [PendingUpdate<State>]) -> [PendingUpdate<State>] {
        batch.filter { update in
            guard let id = update.published else { return true }
            update.published = nil
            waiting.removeAll { $0 == id }
            if let answers = queue.answers(for: id, creating: false), QueueWaiter.answer(update, from: queue, in: answers.descriptor, id: id) {
                return false
            }
            if queue.withdraw(id) { return true }
            update.fail(QueueAnswer.unknown("its request left the queue unanswered").error(path: queue.path))
            return false
        }
    }

    /// Takes the waiting requests (at most ``maximumTaken``) as updates to commit after `own`,
    /// answered through the queue. Compare-and-swap requests refer to the version before the
    /// commit, so at most one is taken, and only when `own` has none; it goes first. The rest
    /// wait for a later holder.
    ///
    /// Gathering: when fewer requests wait than `expected` (as many as the previous version
    /// combined: the processes it answered are likely to come straight back), it looks again,
    /// at most ``gatheringLooks`` times ``gatheringPause`` apart, for theirs to arrive, as the
    /// in-process group commit does for its tasks.
    mutating func take(
        after own: [PendingUpdate<State>], directory: StoreDirectory, handle: StoreHandle, limit: Int, expected: Int = 0
    ) -> [PendingUpdate<State>] {
        guard State.self == JSONValue.self else { return [] }
        var taken: [PendingUpdate<State>] = []
        var compareAndSwap: PendingUpdate<State>?
        var mayTakeCompareAndSwap = !own.contains { $0.expectedVersion != nil }
        var seen = Set<String>()
        var looks = 0
        while true {
            for id in waiting where !seen.contains(id) && taken.count < Self.maximumTaken {
                seen.insert(id)
                guard let claimed = queue.claim(id, base: base, limit: limit) else { continue }
                let request: QueuedRequest
                switch claimed {
                case .success(let read): request = read
                case .failure(let error):
                    queue.answer(id, base: base, with: .mutationFailed(error))
                    continue
                }
                if request.expectedVersion != nil {
                    guard mayTakeCompareAndSwap else {
                        queue.unclaim(id, base: base)
                        continue
                    }
                    mayTakeCompareAndSwap = false
                    compareAndSwap = update(for: request, directory: directory, handle: handle)
                } else {
                    taken.append(update(for: request, directory: directory, handle: handle))
                }
            }
            guard taken.count + (compareAndSwap == nil ? 0 : 1) < min(expected, Self.maximumTaken), looks < Self.gatheringLooks else { break }
            looks += 1
            usleep(UInt32(Self.gatheringPause.saturatingNanoseconds / 1000))
            guard let entries = try? queue.entries() else { break }
            waiting = entries.compactMap { entry -> String? in
                if case .request(let id) = entry { return id } else { return nil }
            }
        }
        return (compareAndSwap.map { [$0] } ?? []) + taken
    }

    /// How often ``take(after:directory:handle:limit:expected:)`` looks again for requests.
    static var gatheringLooks: Int { 2 }
    /// The pause before each look again.
    static var gatheringPause: Duration { .microseconds(100) }

    /// An update applying a request, answered through the queue.
    private func update(for request: QueuedRequest, directory: StoreDirectory, handle: StoreHandle) -> PendingUpdate<State> {
        let queue = queue
        let base = base
        let id = request.id
        let store = directory.descriptor
        let stateFile = handle.files.stateFile
        // A version is written even when the state comes out unchanged: requests that cancel out
        // (+1 and -1) are then each committed, listed, never answered with no version to show
        // for them (a holder dying between two such answers would leave one re-queued alone).
        return PendingUpdate<State>(
            expectedVersion: request.expectedVersion, commitsUnchanged: true, queueID: id,
            mutation: { state in
                // State is JSONValue (``take(after:directory:handle:limit:expected:)`` checked): the same memory.
                try withUnsafeMutablePointer(to: &state) { pointer in
                    try pointer.withMemoryRebound(to: JSONValue.self, capacity: 1) { json in try request.mutation.apply(to: &json.pointee) }
                }
                return { _ in queue.answerCommitted(id, base: base, store: store, stateFile: stateFile) }
            },
            failure: { error in
                switch error {
                case let error as StateMutationError:
                    queue.answer(id, base: base, with: .mutationFailed(error))
                case let error as StateStoreError:
                    switch error.outcome {
                    case .committedDurabilityUnknown?:
                        queue.answerCommitted(id, base: base, store: store, stateFile: stateFile)
                    case .unknown?:
                        // Left claimed: the next holder settles it from the header.
                        break
                    case .notCommitted?, nil:
                        // With the lock lost, another holder may have settled this claim and
                        // taken it again under the same name: it is left for whoever holds the
                        // lock to settle from the header.
                        if error.code != .lockLost { queue.answer(id, base: base, with: .refused(error)) }
                    }
                default:
                    queue.answer(id, base: base, with: .mutationFailed(StateMutationError(.malformed, "\(error)")))
                }
            })
    }
}

extension StoreHandle {
    /// The header of a kept version (history), or nil when it is not kept or cannot be read.
    func keptHeader(version: UInt64, directory: FileDescriptor) -> StateFileHeader? {
        try? history(directory).read(version: version).header
    }
}
