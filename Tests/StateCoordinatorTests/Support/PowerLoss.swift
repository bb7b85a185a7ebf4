import Foundation
import Synchronization
import SystemPackage

@testable @_spi(FaultInjection) import StateCoordinator

/// A power loss as LazyFS makes one, through the system-call seam: every file written since its
/// last fsync loses its data (it is cut to nothing). Stores opened with ``systemCalls`` are
/// watched; ``cut(_:)`` then applies the loss to a directory tree.
final class PowerLoss: Sendable {
    /// Files (device, inode) written since their last fsync.
    private let dirty = Mutex<Set<[UInt64]>>([])
    /// Every file fsynced, by the name it was opened with.
    let synchronized = Mutex<[String]>([])
    private let names = Mutex<[CInt: String]>([:])

    var systemCalls: SystemCalls {
        var calls = SystemCalls.live
        calls.open = { (d, p, intent) throws(Errno) in
            let fd = try SystemCalls.live.open(d, p, intent)
            self.names.withLock { $0[fd.rawValue] = p.split(separator: "/").last.map(String.init) ?? p }
            return fd
        }
        calls.close = { (fd) throws(Errno) in
            _ = self.names.withLock { $0.removeValue(forKey: fd.rawValue) }
            try SystemCalls.live.close(fd)
        }
        calls.write = { (fd, bytes) throws(Errno) in
            let written = try SystemCalls.live.write(fd, bytes)
            if let status = try? SystemCalls.live.fstat(fd) { _ = self.dirty.withLock { $0.insert([status.device, status.inode]) } }
            return written
        }
        calls.fsync = { (fd) throws(Errno) in
            try SystemCalls.live.fsync(fd)
            if let status = try? SystemCalls.live.fstat(fd), status.isRegularFile {
                _ = self.dirty.withLock { $0.remove([status.device, status.inode]) }
                self.synchronized.withLock { $0.append(self.names.withLock { $0[fd.rawValue] } ?? "?") }
            }
        }
        return calls
    }

    /// Cuts every file under `directory` that holds data never fsynced to zero bytes.
    func cut(_ directory: String) throws {
        let dirty = self.dirty.withLock { $0 }
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return }
        for case let relative as String in walker {
            let path = directory + "/" + relative
            var raw = stat()
            guard lstat(path, &raw) == 0, raw.st_mode & S_IFMT == S_IFREG else { continue }
            if dirty.contains([UInt64(raw.st_dev), UInt64(raw.st_ino)]) { truncate(path, 0) }
        }
    }
}
