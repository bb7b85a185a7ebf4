import SystemPackage

/// A state file just opened, and its status: what a reader decides on before reading it (see
/// ``StateFileReader/read(directory:name:path:deciding:)``). The descriptor is closed when the
/// last holder drops it. Only a read-ahead temp file is kept open beyond its read, until its
/// rename (see ``ReadAhead``); anything held longer would cost every commit ext4 orphan-list
/// updates (see ``SeenVersion``).
final class PinnedFile: Sendable {
    /// The open descriptor (read-only).
    let descriptor: FileDescriptor
    /// The file's status when it was opened.
    let status: FileStatus
    private let calls: SystemCalls

    init(descriptor: FileDescriptor, status: FileStatus, calls: SystemCalls) {
        self.descriptor = descriptor
        self.status = status
        self.calls = calls
    }

    /// The header line, read with `pread` (see ``HeaderPeek``).
    var header: StateFileHeader? { HeaderPeek.header(of: descriptor, calls: calls) }

    deinit { try? calls.close(descriptor) }
}
