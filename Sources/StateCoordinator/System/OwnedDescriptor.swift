import SystemPackage

/// A file descriptor with exactly one owner, closed exactly once: explicitly with ``close()``
/// (which reports errors), or when the owner drops it on an error path.
final class OwnedDescriptor {
    let rawValue: CInt
    private let calls: SystemCalls
    private var isClosed = false

    init(_ rawValue: CInt, calls: SystemCalls) {
        self.rawValue = rawValue
        self.calls = calls
    }

    /// Closes the descriptor, reporting the error (a deferred write error surfaces here on some
    /// file systems). The descriptor is released either way; a second call does nothing.
    func close() throws(Errno) {
        guard !isClosed else { return }
        isClosed = true
        try calls.close(rawValue)
    }

    deinit {
        if !isClosed { try? calls.close(rawValue) }
    }
}
