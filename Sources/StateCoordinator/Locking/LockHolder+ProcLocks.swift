import Foundation

extension LockHolder {
    /// Finds who holds a `flock` on the file with the given device and inode, from `/proc/locks`.
    ///
    /// A line of `/proc/locks` reads `1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF`; the device
    /// is `major:minor` in hex and the inode in decimal. Lines with `->` are waiters, not holders.
    /// Returns nil when the lock is not held or `/proc` is unavailable.
    static func find(device: UInt64, inode: UInt64, procLocks: String? = nil) -> LockHolder? {
        guard let pid = holders(device: device, inode: inode, procLocks: procLocks)?.first else { return nil }
        return LockHolder(pid: pid, uid: uid(of: pid), command: commandLine(of: pid))
    }

    /// The pids holding a `flock` (shared or exclusive) on the file, from `/proc/locks`; nil when
    /// `/proc/locks` cannot be read.
    static func holders(device: UInt64, inode: UInt64, procLocks: String? = nil) -> [Int32]? {
        guard let table = procLocks ?? ProcFile.text("/proc/locks") else { return nil }
        return holders(device: device, inode: inode, in: table)
    }

    /// The pids holding a `flock` on the file, in a `/proc/locks` text read once (a lister looking
    /// at thousands of entries reads the table once, not once per entry).
    static func holders(device: UInt64, inode: UInt64, in table: String) -> [Int32] {
        let wanted = fileKey(device: device, inode: inode)
        return flockHolders(in: table).compactMap { $0.file == wanted ? $0.pid : nil }
    }

    /// Every `flock` holder in a `/proc/locks` text, by file: one pass over the table, for a lister
    /// that looks up thousands of files (an attacker may hold thousands of locks).
    static func holdersByFile(in table: String) -> [String: [Int32]] {
        var byFile: [String: [Int32]] = [:]
        for (pid, file) in flockHolders(in: table) { byFile[file, default: []].append(pid) }
        return byFile
    }

    /// The key ``holdersByFile(in:)`` files a lock under: `major:minor:inode`, unpadded hex device.
    static func fileKey(device: UInt64, inode: UInt64) -> String {
        "\(String(major(device), radix: 16, uppercase: false)):\(String(minor(device), radix: 16)):\(inode)"
    }

    /// The holders' lines (waiters, with `->`, apart) of `flock` locks: pid and file key.
    private static func flockHolders(in table: String) -> [(pid: Int32, file: String)] {
        table.split(separator: "\n").compactMap { line -> (Int32, String)? in
            guard !line.contains("->") else { return nil }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", let pid = Int32(fields[4]) else { return nil }
            return (pid, normalized(fields[5]))
        }
    }

    /// The user a process runs as: its effective uid, from the `Uid:` line of `/proc/PID/status`
    /// (real, effective, saved, file-system). Not the owner of `/proc/PID`, which is root for a
    /// process that is not dumpable (one that changed its uid, or runs with capabilities).
    static func uid(of pid: Int32) -> UInt32? {
        guard let status = ProcFile.text("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
            let fields = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " })
            return fields.count > 1 ? UInt32(fields[1]) : nil
        }
        return nil
    }

    /// The command line of a process, arguments joined by spaces, line breaks and tabs (a script
    /// passed with `-c` has newlines) shown as spaces so that an error stays on one line, and every
    /// other control or formatting character as `?`.
    static func commandLine(of pid: Int32) -> String? {
        guard let data = ProcFile.bytes("/proc/\(pid)/cmdline"), !data.isEmpty else {
            return nil
        }
        let parts = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        let oneLine = parts.joined(separator: " ").unicodeScalars.map { $0 == "\n" || $0 == "\t" || $0 == "\r" ? " " : $0 }
        return TerminalText.safe(String(String.UnicodeScalarView(oneLine)))
    }

    /// `/proc/locks` pads the major and minor numbers (`fd:01`); drop the padding to compare.
    private static func normalized(_ field: Substring) -> String {
        let parts = field.split(separator: ":")
        guard parts.count == 3, let major = UInt64(parts[0], radix: 16), let minor = UInt64(parts[1], radix: 16)
        else { return String(field) }
        return "\(String(major, radix: 16)):\(String(minor, radix: 16)):\(parts[2])"
    }

    // glibc's gnu_dev_major/gnu_dev_minor, which Swift does not import as macros.
    private static func major(_ device: UInt64) -> UInt64 {
        ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
    }
    private static func minor(_ device: UInt64) -> UInt64 {
        (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
    }
}
