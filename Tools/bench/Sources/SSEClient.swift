import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal Server-Sent Events client over a plain TCP socket, for the sidecar workload: sends
/// `GET /events`, then records the realtime at which each `id:` line arrived, on a thread of its own.
final class SSEClient: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var arrivals: [(version: Int, at: Int64)] = []
    private let done = DispatchSemaphore(value: 0)

    init(port: Int, until: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchFailure("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchFailure("connect to the sidecar failed: errno \(errno)") }
        let request = Array("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        let thread = Thread { [self] in read(until: until) }
        thread.start()
    }

    private func read(until: Int) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var pending: [UInt8] = []
        loop: while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            let now = Clock.realtime()
            pending += buffer[0..<count]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[..<newline]
                pending.removeSubrange(...newline)
                if line.starts(with: Array("id: ".utf8)), let version = Int(String(decoding: line.dropFirst(4), as: UTF8.self)) {
                    lock.lock()
                    arrivals.append((version, now))
                    lock.unlock()
                    if version >= until { break loop }
                }
            }
        }
        close(fd)
        done.signal()
    }

    /// Waits until the client saw version `until` (or the connection ended).
    func finish(timeout: Duration = .seconds(60)) -> [(version: Int, at: Int64)] {
        _ = done.wait(timeout: .now() + .milliseconds(Int(timeout.components.seconds * 1000)))
        lock.lock()
        defer { lock.unlock() }
        return arrivals
    }
}
