import Logging

/// What a reader or a watch holds of its registration: the registration when it succeeded, or
/// why it failed (said once in the log; the reader reads on, unregistered).
struct RegistrationSlot: Sendable {
    let registration: (any ReaderMarks)?
    private let failure: ReaderRegistrationStatus

    init(registration: (any ReaderMarks)?, status: ReaderRegistrationStatus) {
        self.registration = registration
        failure = status
    }

    static let none = RegistrationSlot(registration: nil, status: .notRequested)

    /// The status now (a registration that had to register again has a new ID).
    var status: ReaderRegistrationStatus {
        guard let registration else { return failure }
        return .registered(id: registration.id ?? "", label: registration.label)
    }

    /// Registers as `label`, blocking; nil label: not registered. Only an invalid label throws:
    /// a registry that cannot be written leaves the reader unregistered.
    static func register(
        _ place: StorePlace, label: String?, loaded: (version: UInt64, storeID: String)?
    ) throws(StateStoreError) -> RegistrationSlot {
        guard let label else { return .none }
        let handle: StoreHandle
        switch place {
        case .files(let files): handle = files
        case .etcd(let access):
            // The first write is waited for (one request timeout at most); a cluster out of reach
            // leaves the entry to be written when it comes back.
            let registration = try EtcdReaderRegistration.register(access, label: label, loaded: loaded, logger: access.logger)
            return RegistrationSlot(registration: registration, status: .notRequested)
        }
        do {
            let registration = try ReaderRegistration.register(handle, label: label, loaded: loaded)
            return RegistrationSlot(registration: registration, status: .notRequested)
        } catch where error.code == .invalidArgument {
            throw error
        } catch {
            handle.options.logger.warning(
                "reading unregistered: the reader registry cannot be written",
                metadata: ["label": "\(label)", "store": "\(handle.stateFilePath)", "error": "\(error)"])
            return RegistrationSlot(registration: nil, status: .unregistered(label: label, error: error))
        }
    }

    /// Marks what the library knows: each version loaded, and each version whose state does not
    /// decode as the reader's type (rejected, with the decoding error).
    func observe<State>(_ event: WatchEvent<State>) {
        guard let registration else { return }
        switch event {
        case .snapshot(let snapshot):
            registration.noteLoaded(snapshot.version, storeID: snapshot.storeID)
        case .problem(let error) where error.code == .badState:
            if let version = error.version, let storeID = error.storeID {
                registration.reject(version, storeID: storeID, error: error.message)
            }
        default:
            break
        }
    }

    func close() { registration?.close() }
}
