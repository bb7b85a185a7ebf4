import Foundation

/// The descriptors of this process that are inotify instances: those `/proc/self/fd` shows as
/// `anon_inode:inotify`. libinotifytools keeps its instance's descriptor to itself, so the one it
/// makes is found as the one that was not there before (``InotifyCalls/live``).
enum InotifyDescriptors {
    /// Every inotify instance's descriptor; nil when `/proc/self/fd` cannot be read.
    static func list() -> Set<Int32>? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return Set(names.compactMap { name in
            guard let fd = Int32(name),
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) == "anon_inode:inotify"
            else { return nil }
            return fd
        })
    }

    /// How many watches the instance open as `fd` holds (`inotify wd:` lines of
    /// `/proc/self/fdinfo/FD`); nil when that cannot be read.
    static func watchCount(_ fd: Int32) -> Int? {
        guard let info = ProcFile.text("/proc/self/fdinfo/\(fd)") else { return nil }
        return info.split(separator: "\n").filter { $0.hasPrefix("inotify wd:") }.count
    }
}
