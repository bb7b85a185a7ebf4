/// Whether a reader or a watch is registered in its store's reader registry.
public enum ReaderRegistrationStatus: Sendable, Equatable {
    /// It was made without a label: it reads without reporting.
    case notRequested
    /// Registered as entry `id` with `label`; writers waiting for acknowledgements count it.
    case registered(id: String, label: String)
    /// It asked to register as `label` but could not (no write access to the registry, a
    /// read-only file system…): it reads all the same, unregistered. `error` says why.
    case unregistered(label: String, error: StateStoreError)

    public static func == (lhs: ReaderRegistrationStatus, rhs: ReaderRegistrationStatus) -> Bool {
        switch (lhs, rhs) {
        case (.notRequested, .notRequested): true
        case (.registered(let a, let b), .registered(let c, let d)): a == c && b == d
        case (.unregistered(let a, let e), .unregistered(let b, let f)): a == b && e.code == f.code && e.message == f.message
        default: false
        }
    }
}
