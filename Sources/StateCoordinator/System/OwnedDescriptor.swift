import SystemPackage

/// A file descriptor with exactly one owner, closed exactly once: explicitly with ``close()``
/// (which reports errors), or when the owner drops it on an error path.
final class OwnedDescriptor {
    let descriptor: FileDescriptor
    private let calls: SystemCalls
    /// Whether ``close()`` was called: the number may name another file by now.
    private(set) var isClosed = false

    init(_ descriptor: FileDescriptor, calls: SystemCalls) {
        self.descriptor = descriptor
        self.calls = calls
    }

    /// Closes the descriptor, reporting the error (a deferred write error surfaces here on some
    /// file systems). The descriptor is released either way; a second call does nothing.
    func close() throws(Errno) {
        guard !isClosed else { return }
        isClosed = true
        try calls.close(descriptor)
    }

    deinit {
        if !isClosed { try? calls.close(descriptor) }
    }
}
