#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// How the protocol opens a file: each combination of access mode and options it uses, named
/// once with swift-system's types, instead of `O_*` flags assembled at each call site.
/// Every intent closes on exec; none follows a symbolic link unless it says so.
@_spi(FaultInjection)
public struct OpenIntent: Sendable, Equatable {
    /// Read, write or both.
    public var access: FileDescriptor.AccessMode
    /// `O_NOFOLLOW`, `O_NONBLOCK`, `O_CREAT | O_EXCL`, `O_DIRECTORY`, …
    public var options: FileDescriptor.OpenOptions
    /// The mode of a file the open creates.
    public var permissions: FilePermissions?

    /// The raw `openat(2)` flags.
    public var flags: CInt { access.rawValue | options.rawValue }

    /// An existing regular file, for reading, never blocking: a FIFO planted at the name is
    /// opened at once (and then refused by its type) instead of blocking until a writer comes.
    public static let readExisting = OpenIntent(access: .readOnly, options: [.noFollow, .closeOnExec, .nonBlocking])
    /// A file of our own (a temp file just written), for reading and fsyncing.
    public static let readOwn = OpenIntent(access: .readOnly, options: [.noFollow, .closeOnExec])
    /// A file named by the user (an import), for reading; links are followed, as a user expects.
    public static let readFollowingLinks = OpenIntent(access: .readOnly, options: [.closeOnExec])
    /// A directory, following links in its path (the store directory a user named).
    public static let directory = OpenIntent(access: .readOnly, options: [.directory, .closeOnExec])
    /// A directory inside the store (its history), never a link.
    public static let ownDirectory = OpenIntent(access: .readOnly, options: [.directory, .noFollow, .closeOnExec])
    /// A new file only (`O_CREAT | O_EXCL`), for writing: a temp file. (`O_NONBLOCK` changes
    /// nothing for the regular file `O_EXCL` guarantees; it is there so that no flag set the
    /// library creates files with can ever block on a FIFO.)
    public static func createForWriting(_ permissions: FilePermissions) -> OpenIntent {
        OpenIntent(
            access: .writeOnly, options: [.create, .exclusiveCreate, .noFollow, .nonBlocking, .closeOnExec], permissions: permissions)
    }
    /// A file of our own, created or truncated, for writing: a reader's record, rewritten in full
    /// under a temp name only its owner uses, then renamed over the record.
    public static func replaceOwn(_ permissions: FilePermissions) -> OpenIntent {
        OpenIntent(access: .writeOnly, options: [.create, .truncate, .noFollow, .closeOnExec], permissions: permissions)
    }
    /// A new file only (`O_CREAT | O_EXCL`), opened for reading: the lockfile.
    public static func createEmpty(_ permissions: FilePermissions) -> OpenIntent {
        OpenIntent(access: .readOnly, options: [.create, .exclusiveCreate, .noFollow, .nonBlocking, .closeOnExec], permissions: permissions)
    }
}

/// What a `flock(2)` call asks for.
@_spi(FaultInjection)
public enum LockOperation: Sendable, Equatable {
    /// `LOCK_EX`: wait for the exclusive lock.
    case exclusive
    /// `LOCK_EX | LOCK_NB`: take it now or fail with `EWOULDBLOCK`.
    case exclusiveNow
    /// `LOCK_SH`: wait for a shared lock (a registered reader's entry, held for its life).
    case shared
    /// `LOCK_SH | LOCK_NB`: take a shared lock now or fail with `EWOULDBLOCK`.
    case sharedNow
    /// `LOCK_UN`.
    case unlock

    /// The raw operation.
    public var rawValue: CInt {
        switch self {
        case .exclusive: LOCK_EX
        case .exclusiveNow: LOCK_EX | LOCK_NB
        case .shared: LOCK_SH
        case .sharedNow: LOCK_SH | LOCK_NB
        case .unlock: LOCK_UN
        }
    }
}

extension SystemCalls {
    /// Paths given with this "directory" are resolved from the current directory (`AT_FDCWD`).
    public static var currentDirectory: FileDescriptor { FileDescriptor(rawValue: AT_FDCWD) }
}
