#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension WriterIdentity {
    /// This process, with the given label.
    static func current(label: String) -> WriterIdentity {
        WriterIdentity(pid: getpid(), host: hostName, label: label)
    }

    private static let hostName: String = {
        var buffer = [UInt8](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
    }()
}
