#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore
import NIOPosix
@_spi(Diagnostics) import StateCoordinator

/// Who a connection's client is, for the per-client limit on event streams: a user where the
/// kernel can tell (a Unix socket's peer credentials; for a loopback TCP connection, the owner of
/// the client's own socket in `/proc/net/tcp`), else its address. On loopback every local user
/// connects from 127.0.0.1 (and may pick any 127.x.x.x), so an address alone would let one user
/// hold every stream.
enum StreamClient {
    static func key(of channel: any Channel) async -> String {
        guard let remote = channel.remoteAddress else { return "unknown" }
        switch remote {
        case .unixDomainSocket:
            if let provider = channel as? any SocketOptionProvider,
                let credentials: PeerCredentials = try? await provider.unsafeGetSocketOption(
                    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(PeerCredentials.option)
                ).get()
            {
                return "uid \(credentials.uid)"
            }
            return "unix"
        case .v4(let address):
            let ip = address.address.sin_addr.s_addr
            guard UInt32(bigEndian: ip) >> 24 == 127 else { return remote.ipAddress ?? "unknown" }
            let server = channel.localAddress.flatMap { local -> String? in
                guard case .v4(let own) = local else { return nil }
                return hex(own.address.sin_addr.s_addr) + ":" + hex16(local.port ?? 0)
            }
            if let uid = await owner(inTable: "/proc/net/tcp", local: hex(ip) + ":" + hex16(remote.port ?? 0), remote: server) {
                return "uid \(uid)"
            }
            // Never the address: every local user may connect from any 127.x.x.x.
            return "loopback, user unknown"
        case .v6(let address):
            var bytes = address.address.sin6_addr
            let words = withUnsafeBytes(of: &bytes) { raw in (0..<4).map { raw.load(fromByteOffset: $0 * 4, as: UInt32.self) } }
            let isLoopback = withUnsafeBytes(of: &bytes) { raw in raw.prefix(15).allSatisfy { $0 == 0 } && raw[15] == 1 }
            let isMappedLoopback = withUnsafeBytes(of: &bytes) { raw in
                raw.prefix(10).allSatisfy { $0 == 0 } && raw[10] == 0xff && raw[11] == 0xff && raw[12] == 127
            }
            guard isLoopback || isMappedLoopback else { return remote.ipAddress ?? "unknown" }
            if let uid = await owner(inTable: "/proc/net/tcp6", local: words.map(hex).joined() + ":" + hex16(remote.port ?? 0), remote: nil) {
                return "uid \(uid)"
            }
            return "loopback, user unknown"
        }
    }

    /// `struct ucred` (pid, uid, gid: three 32-bit fields), which glibc declares only under
    /// `_GNU_SOURCE`, and `SO_PEERCRED` (17 on every Linux architecture but PA-RISC and SPARC).
    struct PeerCredentials: Sendable {
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        static let option: CInt = 17
    }

    /// The uid owning the established socket whose local address is `local` (the kernel's
    /// `HEX:PORT` form) and, when given, whose peer is `remote` (this server's end), from a
    /// `/proc/net/tcp`-style table. A TIME_WAIT row of an earlier connection on the same port
    /// (owned by nobody: uid 0) is not taken for it.
    static func owner(inTable path: String, local: String, remote: String?) async -> UInt32? {
        // Read whole (Foundation stops after the first page of a /proc file), off the event loop
        // and the cooperative pool: on a busy host the table is megabytes.
        guard let table = try? await NIOThreadPool.singleton.runIfActive({ ProcFile.text(path) }) ?? nil else { return nil }
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 7, fields[1] == local, fields[3] == "01" else { continue }
            if let remote, fields[2] != remote { continue }
            return UInt32(fields[7])
        }
        return nil
    }

    /// A 32-bit word as the kernel prints it (`%08X` of the value in host order).
    private static func hex(_ word: UInt32) -> String {
        let digits = String(word, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    private static func hex16(_ port: Int) -> String {
        let digits = String(port, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
