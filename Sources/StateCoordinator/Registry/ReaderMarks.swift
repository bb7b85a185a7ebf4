/// A reader's registration as the library uses it, whichever registry holds it: a local one
/// (``ReaderRegistration``, a file under a flock) or the store's registry on etcd
/// (``EtcdReaderRegistration``, a key under a lease). Marking never blocks its caller.
protocol ReaderMarks: AnyObject, Sendable {
    /// The label it registered with.
    var label: String { get }
    /// The entry's ID, while registered.
    var id: String? { get }
    /// Notes that the reader loaded `version`.
    func noteLoaded(_ version: UInt64, storeID: String)
    /// Notes that the application applied `version` (an acknowledgement).
    func acknowledge(_ version: UInt64, storeID: String)
    /// Notes that the reader rejected `version`, with why.
    func reject(_ version: UInt64, storeID: String, error: String)
    /// Returns once every mark made before the call is written (or failed to be).
    func waitUntilWritten() async
    /// Ends the registration, removing the entry, without waiting.
    func close()
    /// Ends the registration and returns once the entry is removed (or that failed).
    func closeAndWait() async
}

extension ReaderRegistration: ReaderMarks {}
