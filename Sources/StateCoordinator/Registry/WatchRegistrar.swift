import Synchronization

/// A watch iterator's registration, made on the follower's queue before its first event (a
/// watch is made synchronously, often on the cooperative pool, where the registry's system
/// calls must not run).
final class WatchRegistrar: Sendable {
    private let contents = Mutex<RegistrationSlot?>(nil)
    private let closed = Mutex(false)

    var slot: RegistrationSlot? { contents.withLock { $0 } }
    var status: ReaderRegistrationStatus { slot?.status ?? .notRequested }

    /// Registers as `label`; returns the error when the watch goes on unregistered.
    func register(_ place: StorePlace, label: String) -> StateStoreError? {
        let slot: RegistrationSlot
        do {
            slot = try RegistrationSlot.register(place, label: label, loaded: nil)
        } catch {
            slot = RegistrationSlot(registration: nil, status: .unregistered(label: label, error: error))
        }
        let late = closed.withLock { closed in
            if !closed { contents.withLock { $0 = slot } }
            return closed
        }
        if late { slot.close() }
        if case .unregistered(_, let error) = slot.status { return error }
        return nil
    }

    func close() {
        closed.withLock { $0 = true }
        contents.withLock { $0 }?.close()
    }
}
