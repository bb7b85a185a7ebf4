import Dispatch
import Foundation
import ServiceLifecycle
import Synchronization

/// Keeps the newest snapshot of a store in memory, updated as each version is committed, for
/// hot paths such as a trading bot's tick loop: ``current`` and ``read(_:)`` take an uncontended
/// lock, no system call. A reader follows from the moment
/// ``StateObservation/reader(in:onEvent:)-7oc6k`` returns until ``close()``; as a
/// swift-service-lifecycle `Service`, its ``run()`` ends on cancellation or graceful shutdown and
/// closes it.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false }
/// let reader = try await StateObservation().reader(in: ReadOnlyStateStore<Risk>(directory: "/srv/bot"))
/// if reader.read({ $0.state.halt }) { print("halted") }      // one field, without copying the snapshot
/// let halt = try await reader.wait(until: { $0.state.halt })  // wakes when a halt is committed
/// print("halted at version \(halt.version)")
/// ```
///
/// What degrades a reader reaches the application: ``mode`` says whether it still hears of
/// commits by inotify or fell back to polling (``WatchMode/closed`` once closed), ``problem``
/// holds the last version it could not use (unverifiable, or not decodable as `State`) until a
/// good one replaces it, and `onEvent` receives every event.
public final class StateReader<State: Codable & Sendable>: Service, Sendable {
    @usableFromInline let shared: ReaderShared<State>
    private let follower: Mutex<(any BackendFollow)?>
    private let registrar: RegistrationSlot

    /// The newest verified snapshot (a copy: to read one field, ``read(_:)`` avoids it).
    public var current: StateSnapshot<State> { shared.mailbox.withContents { $0.snapshot } }

    /// Reads from the newest snapshot in place, without copying it: `reader.read { $0.state.halt }`.
    /// `body` runs with the reader's lock held: keep it to a few field reads.
    @inlinable
    public func read<Value: Sendable>(_ body: (borrowing StateSnapshot<State>) throws -> Value) rethrows -> Value {
        try shared.mailbox.withContents { contents in try body(contents.snapshot) }
    }

    /// Reads from the newest snapshot as ``read(_:)`` does, unless the reader is stuck: when the
    /// newest version could not be used (it does not decode as `State`, fails verification, or
    /// cannot be read) it throws that ``problem`` instead of answering from an older version.
    /// The fail-safe read for a kill switch:
    ///
    /// ```swift
    /// struct Risk: Codable, Sendable { var halt = false }
    /// let reader = try await StateObservation().reader(in: ReadOnlyStateStore<Risk>(directory: "/srv/bot"))
    /// let halted = (try? reader.checked { $0.state.halt }) ?? true  // cannot tell: halt
    /// if halted { print("not trading") }
    /// ```
    ///
    /// ``read(_:)`` is the other choice: it keeps answering from the last good version while
    /// ``problem`` says why a newer one is not used.
    public func checked<Value: Sendable>(_ body: (borrowing StateSnapshot<State>) -> Value) throws(StateStoreError) -> Value {
        let outcome: Result<Value, StateStoreError> = shared.mailbox.withContents { contents in
            if let problem = contents.problem { return .failure(problem) }
            return .success(body(contents.snapshot))
        }
        return try outcome.get()
    }

    /// How the reader learns of new versions; ``WatchMode/closed`` once closed.
    public var mode: WatchMode { follower.withLock { $0?.mode } ?? .closed }
    /// The last version the reader could not use (a file failing verification, a state that does
    /// not decode as `State`), while no good version has replaced it; ``current`` keeps the last
    /// good one meanwhile. For a state that does not decode, ``StateStoreError/version`` is the
    /// version the reader is stuck before and ``StateStoreError/cause`` the `DecodingError`; a
    /// registered reader also records it as rejected. ``checked(_:)`` throws it.
    public var problem: StateStoreError? { shared.mailbox.withContents { $0.problem } }
    /// How many tasks wait in ``wait(until:)`` (for tests).
    var waiterCount: Int { shared.mailbox.waiterCount }
    /// The reader's counters.
    public var statistics: WatchStatistics { follower.withLock { $0?.statistics } ?? WatchStatistics() }

    /// Whether the reader is registered in the store's reader registry (see
    /// ``StateObservation/reader(in:onEvent:)-7oc6k``).
    public var registration: ReaderRegistrationStatus { registrar.status }

    /// Tells writers waiting in ``ReadableStateStore/waitForAcknowledgements(of:from:timeout:)-3ell6``
    /// that the application has applied `snapshot` (and so every older version). Cheap: a memory
    /// write and a wake-up of the registration's own thread, which rewrites the record (no fsync);
    /// nothing is done for a reader that is not registered.
    public func acknowledge(_ snapshot: StateSnapshot<State>) {
        registrar.registration?.acknowledge(snapshot.version, storeID: snapshot.storeID)
    }

    /// ``acknowledge(_:)`` by version number alone, for the store identity of the newest snapshot.
    public func acknowledge(version: UInt64) {
        registrar.registration?.acknowledge(version, storeID: shared.mailbox.withContents { $0.snapshot.storeID })
    }

    /// Tells waiting writers that the application cannot use `snapshot` (a NACK), with why. A
    /// version whose state does not decode as `State` is rejected this way automatically.
    public func reject(_ snapshot: StateSnapshot<State>, because error: any Error) {
        registrar.registration?.reject(snapshot.version, storeID: snapshot.storeID, error: "\(error)")
    }

    /// Returns once every acknowledgement and rejection made so far is written to the registry
    /// (they are written on a thread of the registration's own).
    public func waitUntilReported() async {
        await registrar.registration?.waitUntilWritten()
    }

    static func open(
        _ backend: any StoreBackend<State>, place: StorePlace, name: String, label: String?, options: WatchOptions,
        onEvent: (@Sendable (WatchEvent<State>) -> Void)?, observer: (@Sendable (StateSnapshot<State>) -> Void)?
    ) throws(StateStoreError) -> StateReader {
        let (initial, held) = try backend.readNewestHeld()
        let registrar = try RegistrationSlot.register(place, label: label, loaded: (initial.version, initial.storeID))
        return StateReader(
            backend: backend, name: name, initial: initial, held: held, options: options, registrar: registrar,
            onEvent: onEvent, observer: observer)
    }

    /// - Parameters:
    ///   - initial: the snapshot current before the follow started (`held` says where it was read).
    ///   - onEvent: called for every event after it is applied, in order, on a serial queue of the
    ///     reader's own (never on the watch loop's thread, so it may block or close the reader); the
    ///     first version it sees is the one after `initial`.
    ///   - observer: called with each snapshot right after it is stored, on the storing thread.
    private init(
        backend: any StoreBackend<State>, name: String, initial: StateSnapshot<State>, held: HeldVersion, options: WatchOptions,
        registrar: RegistrationSlot, onEvent: (@Sendable (WatchEvent<State>) -> Void)?,
        observer: (@Sendable (StateSnapshot<State>) -> Void)?
    ) {
        let shared = ReaderShared(initial)
        self.shared = shared
        self.registrar = registrar
        follower = Mutex(nil)
        let callbacks = onEvent.map { ($0, DispatchQueue(label: "StateCoordinator.reader.\(name)")) }
        // The sink may run on the loop thread: it only stores what changed and hands the callback on.
        let request = FollowRequest<State>(options: options, holding: held, verifiedAgain: { shared.clearProblem() }) { event in
            registrar.observe(event)
            switch event {
            case .snapshot(let snapshot):
                shared.store(snapshot)
                observer?(snapshot)
            case .problem(let error):
                shared.report(error)
            default:
                break
            }
            if let (callback, queue) = callbacks { queue.async { callback(event) } }
        }
        // Not under the lock: a backend may deliver at once, to a sink that reads the reader.
        let started = backend.follow(request)
        follower.withLock { $0 = started }
        if shared.mailbox.isClosed { started.stop() }  // closed meanwhile (by a callback): let go
    }

    /// Waits until the newest snapshot satisfies `condition` and returns that snapshot (at once
    /// if the current one does). `condition` runs in the waiting task: for the current snapshot,
    /// then each time the task is woken by a newer one, for the newest at that moment (a version
    /// stored and overtaken while the task was not running is not looked at, as a reader holds
    /// only the newest); never on the watch loop's thread nor under a lock of the reader's.
    ///
    /// - Throws: `CancellationError` when the task is cancelled; ``StateStoreError/Code/closed``
    ///   when the reader is closed first.
    public func wait(
        until condition: @escaping @Sendable (borrowing StateSnapshot<State>) -> Bool
    ) async throws -> StateSnapshot<State> {
        try await shared.wait(until: condition)
    }

    /// Stops following; ``current`` keeps the last snapshot, and waits still pending fail with
    /// ``StateStoreError/Code/closed``.
    public func close() {
        follower.withLock { follower in
            defer { follower = nil }
            return follower
        }?.stop()
        shared.close()
        registrar.close()
    }

    /// Follows the store until the task is cancelled or the service group shuts down gracefully,
    /// then closes the reader. The reader follows before `run()` starts (from the moment it was
    /// made); `run()` is what ties its end to a service's lifetime.
    public func run() async throws {
        defer { close() }
        do { try await gracefulShutdown() } catch is CancellationError {}
    }

    deinit { close() }
}
