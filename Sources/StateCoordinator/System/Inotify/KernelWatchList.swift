import Foundation

/// Lists the inotify watches the kernel holds for this process, per instance: every descriptor
/// of `/proc/self/fd` that is an inotify instance has, in `/proc/self/fdinfo/N`, one line per
/// watch: `inotify wd:3 ino:1a2b sdev:800001 mask:… ignored_mask:0 …` (numbers in hex).
enum KernelWatchList {
    static func read() -> [Set<InotifyCalls.KernelWatch>]? {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        var instances: [Set<InotifyCalls.KernelWatch>] = []
        for descriptor in descriptors {
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(descriptor)")) == "anon_inode:inotify",
                let info = ProcFile.text("/proc/self/fdinfo/\(descriptor)")
            else { continue }
            instances.append(Set(parse(info)))
        }
        return instances
    }

    /// The watches of one fdinfo text; lines that do not parse are skipped.
    static func parse(_ info: String) -> [InotifyCalls.KernelWatch] {
        info.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("inotify ") else { return nil }
            var watch: Int32?
            var inode: UInt64?
            for field in line.split(separator: " ") {
                if field.hasPrefix("wd:") { watch = Int32(field.dropFirst(3), radix: 16) }
                if field.hasPrefix("ino:") { inode = UInt64(field.dropFirst(4), radix: 16) }
            }
            guard let watch, let inode else { return nil }
            return InotifyCalls.KernelWatch(watch: watch, inode: inode)
        }
    }
}
