import Foundation

/// Where a store's reader registry is in etcd's key space (see <doc:FleetAcrossHosts>), under
/// `PREFIX/NAME/readers/`, beside the state key and never under it: the store's watchers watch
/// the state key alone, so no record written here wakes them.
///
/// - `readers/live/ID`: a live reader's record, attached to the lease of whoever keeps it alive
///   (the reader, for a direct one; its host's mirror, for one behind a mirror). It disappears
///   with that lease.
/// - `readers/roster/ID`: who the reader is (label, pid, host, connection), without a lease: what
///   is left of a reader whose lease is gone, so that a cut-off host is reported, not forgotten.
///   Removed when the reader closes, or when it is known to have died.
/// - `readers/mirror/HOST`: a mirror's presence, under its lease.
/// - `readers/seen/HOST`: when anything on the host was last heard of (no lease).
extension EtcdStoreKeys {
    var readersPrefix: [UInt8] { Array((base + "readers/").utf8) }
    var livePrefix: [UInt8] { Array((base + "readers/live/").utf8) }
    var rosterPrefix: [UInt8] { Array((base + "readers/roster/").utf8) }
    var mirrorPrefix: [UInt8] { Array((base + "readers/mirror/").utf8) }
    var seenPrefix: [UInt8] { Array((base + "readers/seen/").utf8) }

    func live(_ id: String) -> [UInt8] { livePrefix + Array(id.utf8) }
    func roster(_ id: String) -> [UInt8] { rosterPrefix + Array(id.utf8) }
    func mirror(host: String) -> [UInt8] { mirrorPrefix + Array(Self.keySafe(host).utf8) }
    func seen(host: String) -> [UInt8] { seenPrefix + Array(Self.keySafe(host).utf8) }

    /// What a registry key is: its kind and the ID or host it names; nil for any other key.
    func registryKey(_ key: [UInt8]) -> (kind: RegistryKeyKind, name: String)? {
        for (prefix, kind) in [(livePrefix, RegistryKeyKind.live), (rosterPrefix, .roster), (mirrorPrefix, .mirror), (seenPrefix, .seen)]
        where key.count > prefix.count && key.starts(with: prefix) {
            return (kind, String(decoding: key[prefix.count...], as: UTF8.self))
        }
        return nil
    }

    enum RegistryKeyKind: Sendable { case live, roster, mirror, seen }

    /// `text` with every byte outside `[A-Za-z0-9._-]` written `%XX`: a host name or a local
    /// entry ID as one key segment, never a `/` or a control character.
    static func keySafe(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result.isEmpty ? "%" : result
    }
}
