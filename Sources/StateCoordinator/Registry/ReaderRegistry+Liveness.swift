import SystemPackage

extension ReaderRegistry {
    /// Whether entry `id`'s reader is alive, and its lock file's status (owner, links). A dead entry is
    /// removed here, holding its exclusive lock, when ``removesDeadEntries``; a read-only lister
    /// only reports it dead (its probe, a non-blocking `flock` released at once, changes no file).
    /// The probe, not `/proc/locks`, decides wherever the lock file can be opened: the kernel's
    /// table leaves out holders in other PID namespaces and names btrfs files by another device.
    func liveness(of id: String, in directory: FileDescriptor, lockTable: LockTable = LockTable()) -> (Liveness, lock: FileStatus?) {
        let name = id + Self.lockSuffix
        let lockPath = entryPath(id, Self.lockSuffix)
        let unknown = { (errno: Errno) in Liveness.unknown(.system(.listReaders, path: lockPath, errno: errno, stateUnchanged: false)) }
        let lock: OwnedDescriptor
        do {
            lock = OwnedDescriptor(try calls.open(directory, name, .readExisting), calls: calls)
        } catch .noSuchFileOrDirectory {
            // A dangling symbolic link answers ENOENT to an open, too.
            if let status = try? calls.fstatat(directory, name), status.isSymbolicLink {
                return (.invalid("its lock file is a symbolic link"), status)
            }
            return (.gone, nil)
        } catch .tooManySymbolicLinkLevels {
            return (.invalid("its lock file is a symbolic link"), try? calls.fstatat(directory, name))
        } catch .permissionDenied {
            // Another user's entry (lock files are their readers' alone): the kernel's lock table says.
            guard let status = try? calls.fstatat(directory, name) else { return (unknown(.permissionDenied), nil) }
            return (livenessFromLockTable(status, table: lockTable) ?? unknown(.permissionDenied), status)
        } catch {
            // A name that cannot be opened for another reason (a socket answers ENXIO): its type decides.
            if let status = try? calls.fstatat(directory, name), !status.isRegularFile {
                return (.invalid("its lock file is not a regular file"), status)
            }
            return (unknown(error), try? calls.fstatat(directory, name))
        }
        guard let status = try? calls.fstat(lock.descriptor) else { return (unknown(.ioError), nil) }
        guard status.isRegularFile else { return (.invalid("its lock file is not a regular file"), status) }
        do {
            try calls.flock(lock.descriptor, .exclusiveNow)
        } catch .wouldBlock {
            // Held: by its reader (shared), or by another process removing it (exclusive).
            do { try calls.flock(lock.descriptor, .sharedNow) } catch .wouldBlock { return (.gone, status) } catch {
                return (unknown(error), status)
            }
            defer { try? calls.flock(lock.descriptor, .unlock) }
            guard isNamed(lock.descriptor, name, in: directory) else { return (.gone, status) }
            // A lock file others may open (made by a library before lock files were 0600): anyone
            // could hold that lock on a dead reader's entry. Live only if the kernel's lock table
            // shows a process of its owner among the holders (this one apart).
            if status.permissions & 0o077 != 0,
                case .invalid(let reason)? = livenessFromLockTable(status, besides: ProcessIdentity.id, table: lockTable)
            {
                return (.invalid(reason), status)
            }
            return (.live, status)
        } catch {
            return (unknown(error), status)
        }
        // Ours exclusively: nobody holds it. Removed only if the name is still this file.
        guard isNamed(lock.descriptor, name, in: directory) else { return (.gone, status) }
        remove(id, in: directory)
        return (.dead, status)
    }

    /// Entry `id`'s liveness, the registry directory opened for the one look.
    func liveness(of id: String) -> Liveness {
        guard let directory = try? openDirectory() else { return .gone }
        return liveness(of: id, in: directory.descriptor).0
    }

    /// The liveness of a lock file (`status`) from `/proc/locks`: live while a process of the
    /// file's owner holds a lock on it; dead when none does (`besides` apart); invalid when only processes known to
    /// be other users' do (a root lister looking, for an instant, at a dead reader's entry); nil
    /// when the table cannot be read, the file is not a regular one, or a holder's user cannot be
    /// told.
    func livenessFromLockTable(_ status: FileStatus, besides ourselves: Int32? = nil, table: LockTable = LockTable()) -> Liveness? {
        guard status.isRegularFile else { return .invalid("its lock file is not a regular file") }
        guard let holders = table.holders(device: status.device, inode: status.inode)?.filter({ $0 != ourselves }) else { return nil }
        if holders.isEmpty { return .dead }
        let owners = holders.map { $0 > 0 ? table.uid(of: $0) : nil }
        if owners.contains(status.owner) { return .live }
        // A holder whose user cannot be told (another PID namespace, /proc mounted hidepid, a
        // process /proc shows as root's) may be the reader: possibly alive, never "no reader".
        if owners.contains(nil) { return nil }
        return .invalid("its lock is held only by processes of other users than the lock file's owner")
    }
}

/// `/proc/locks`, read and indexed at most once per listing (a lister of thousands of entries read
/// it once per entry: quadratic in the locks an attacker holds), and the users of its holders.
final class LockTable {
    private var byFile: [String: [Int32]]??
    private var users: [Int32: UInt32?] = [:]

    init() {}

    /// The effective uid of a holder (``LockHolder/uid(of:)``), looked up once per pid.
    func uid(of pid: Int32) -> UInt32? {
        if let known = users[pid] { return known }
        let uid = LockHolder.uid(of: pid)
        users[pid] = uid
        return uid
    }

    func holders(device: UInt64, inode: UInt64) -> [Int32]? {
        if byFile == nil { byFile = .some(ProcFile.text("/proc/locks").map(LockHolder.holdersByFile(in:))) }
        guard case .some(.some(let table)) = byFile else { return nil }
        return table[LockHolder.fileKey(device: device, inode: inode)] ?? []
    }
}
