#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a `/proc` file whole.
///
/// `/proc` files report size 0 and hand out their text a page or so per `read`: Foundation's
/// `String(contentsOfFile:)` and `FileManager.contents(atPath:)` stop after the first short
/// read, so on a host with many locks `/proc/locks` came back cut at about 4 KiB and a holder
/// listed further down was never found. This reads until `read` returns 0.
@_spi(Diagnostics)
public enum ProcFile {
    /// The most read (a runaway file is cut here rather than filling memory).
    public static let limit = 64 << 20

    /// The whole file, or nil when it cannot be opened or read.
    public static func bytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var contents: [UInt8] = []
        // Large reads: the kernel fills each from where the last stopped, so a list that changes
        // between two reads (a lock released) can shift a line past the seam; one read of
        // 256 KiB takes all of /proc/locks on any but a very busy host.
        var chunk = [UInt8](repeating: 0, count: 256 << 10)
        while contents.count < limit {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { return contents }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            contents += chunk[..<count]
        }
        return contents
    }

    /// The whole file as UTF-8 text (invalid bytes replaced), or nil.
    public static func text(_ path: String) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }
}
