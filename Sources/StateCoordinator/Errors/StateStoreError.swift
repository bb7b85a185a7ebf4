import SystemPackage

/// An error from a state store: what went wrong, where, and what to do about it.
///
/// Modelled on swift-nio's `FileSystemError`: a struct with an extensible ``Code`` rather than an
/// enum of strings, so new failure kinds do not break callers that switch on the code. The
/// ``description`` is one line a user can act on, for example:
///
/// `no space left on device: write of /srv/bot/.state.tmp-Q2F7KD1M failed (ENOSPC). The current
/// state is unchanged. Free space on that file system and retry.`
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; switch on this.
    public var code: Code
    /// What happened, naming the files involved.
    public var message: String
    /// What the user can do about it, when there is something.
    public var hint: String?
    /// The step of the protocol that failed, when a system call failed.
    public var step: Step?
    /// The path the failing step worked on.
    public var path: String?
    /// The errno of the failing system call.
    public var errno: Errno?
    /// For ``Code/conflict``: the version the store is at now.
    public var currentVersion: UInt64?
    /// For ``Code/lockTimeout``: who holds the lock, when it could be found.
    public var lockHolder: LockHolder?
    /// For a failure at or after the rename of a commit: whether the new version was committed.
    /// nil for failures before the rename, which never commit anything.
    public var outcome: CommitOutcome?
    /// Whether the failed operation is known to have left the committed state as it was: every
    /// failure of a commit before its rename, and a rename that did not take effect. The
    /// ``description`` says so.
    public var committedStateUnchanged = false
    /// For an error about one version of the store (a state that does not decode as the
    /// reader's type): that version, and the identity of the store it belongs to.
    public var version: UInt64?
    /// See ``version``.
    public var storeID: String?
    /// For ``Code/schemaViolation``: where the state breaks which rule.
    public var schemaViolation: SchemaViolation?
    /// The error this one was raised for, kept as it was: a `DecodingError` (with its coding
    /// path), a JSON parse error, an error thrown by a `Codable` implementation.
    public var cause: (any Error)?
    /// Where in this package the error was raised (`file:line`), for a bug report.
    public var raisedAt: String

    /// Creates an error; `raisedAt` defaults to the caller's file and line.
    public init(
        _ code: Code, _ message: String, hint: String? = nil, step: Step? = nil, path: String? = nil,
        errno: Errno? = nil, currentVersion: UInt64? = nil, lockHolder: LockHolder? = nil, outcome: CommitOutcome? = nil,
        cause: (any Error)? = nil, fileID: StaticString = #fileID, line: UInt = #line
    ) {
        self.cause = cause
        self.raisedAt = "\(fileID):\(line)"
        self.code = code
        self.message = message
        self.hint = hint
        self.step = step
        self.path = path
        self.errno = errno
        self.currentVersion = currentVersion
        self.lockHolder = lockHolder
        self.outcome = outcome
    }

    /// One line: the code, the message, what became of the committed state, and the hint. Built
    /// here, once, from the fields: no layer appends to ``message``.
    public var description: String {
        var text = "\(code): \(message)"
        if committedStateUnchanged { text += " The committed state is unchanged." }
        if let outcome { text += " Outcome: \(outcome)." }
        if outcome == .committedDurabilityUnknown, let currentVersion {
            text += " Version \(currentVersion) is visible to readers but may not survive a power loss; do not retry the update blindly."
        }
        if let hint { text += " \(hint)" }
        return text
    }
}

extension StateStoreError {
    /// The kind of a ``StateStoreError``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// A short stable identifier, e.g. `lock timeout`.
        public let rawValue: String
        /// The identifier.
        public var description: String { rawValue }
        init(_ rawValue: String) { self.rawValue = rawValue }

        /// The store, or a version of it, does not exist.
        public static let notFound = Code("not found")
        /// A store already exists where one was to be created.
        public static let alreadyExists = Code("already exists")
        /// The state file fails verification (bad checksum, truncated, malformed header).
        public static let corrupt = Code("corrupt")
        /// The state file is not in this project's format (for example a plain JSON file).
        public static let unverifiable = Code("unverifiable")
        /// A compare-and-swap found another version than expected.
        public static let conflict = Code("version conflict")
        /// The writer lock was not acquired in time.
        public static let lockTimeout = Code("lock timeout")
        /// The lockfile was deleted or replaced while a writer held (or was taking) its lock, so
        /// the lock no longer excluded other writers; nothing was committed.
        public static let lockLost = Code("lock lost")
        /// An update was started from inside another update's mutation on the same store.
        public static let reentrantUpdate = Code("re-entrant update")
        /// The store lives on a network file system where `flock` and notification are unreliable.
        public static let networkFileSystem = Code("network file system")
        /// The state exceeds the store's size limit.
        public static let tooLarge = Code("too large")
        /// The process lacks permission for a file or directory.
        public static let permissionDenied = Code("permission denied")
        /// The file system is full (ENOSPC) or a quota is exceeded (EDQUOT).
        public static let noSpace = Code("no space left on device")
        /// A symbolic link was found where the state file or lockfile should be.
        public static let symbolicLink = Code("symbolic link")
        /// The file system does not support fsync on a directory.
        public static let directorySyncUnsupported = Code("directory sync unsupported")
        /// The file system is mounted read-only.
        public static let readOnlyFileSystem = Code("read-only file system")
        /// An argument was invalid (a store name, a setting).
        public static let invalidArgument = Code("invalid argument")
        /// The state could not be encoded or decoded as the requested type.
        public static let badState = Code("bad state")
        /// Any other failure of a system call.
        public static let ioFailure = Code("I/O failure")
        /// The reader was closed (a wait on it cannot be satisfied any more).
        public static let closed = Code("closed")
        /// The state does not match the store's JSON Schema: nothing was committed (or, from
        /// ``ReadableStateStore/verify()-7fic0``, a foreign writer committed it).
        public static let schemaViolation = Code("schema violation")
        /// A store on etcd: no member of the cluster could serve the request in time (each was
        /// tried: refused, timed out, or without a leader). The error names the endpoints tried.
        public static let unavailable = Code("unavailable")
    }

    /// The step of the store's protocol during which an error happened.
    ///
    /// A struct, not an enum, as ``Code`` is: a later version may add steps without breaking a
    /// client's exhaustive `switch`. Compare with the static members.
    public struct Step: Hashable, Sendable, CustomStringConvertible {
        /// The step's name as it appears in messages, e.g. `fsync directory`.
        public let rawValue: String
        init(_ rawValue: String) { self.rawValue = rawValue }

        /// The step named "open directory".
        public static let openDirectory = Step("open directory")
        /// The step named "check file system".
        public static let checkFileSystem = Step("check file system")
        /// The step named "open lockfile".
        public static let openLockfile = Step("open lockfile")
        /// The step named "lock".
        public static let lock = Step("lock")
        /// The step named "read state".
        public static let readState = Step("read state")
        /// The step named "remove orphan temp file".
        public static let removeOrphan = Step("remove orphan temp file")
        /// The step named "create temp file".
        public static let createTemp = Step("create temp file")
        /// The step named "set permissions".
        public static let setPermissions = Step("set permissions")
        /// The step named "write".
        public static let write = Step("write")
        /// The step named "fsync".
        public static let syncFile = Step("fsync")
        /// The step named "keep history".
        public static let keepHistory = Step("keep history")
        /// The step named "check lock".
        public static let checkLock = Step("check lock")
        /// The step named "rename".
        public static let rename = Step("rename")
        /// The step named "fsync directory".
        public static let syncDirectory = Step("fsync directory")
        /// The step named "create store".
        public static let createStore = Step("create store")
        /// The step named "register reader".
        public static let registerReader = Step("register reader")
        /// The step named "write reader record".
        public static let writeReaderRecord = Step("write reader record")
        /// The step named "list readers".
        public static let listReaders = Step("list readers")
        /// The step named "queue update": publishing an update for the lock holder to combine,
        /// or, as the holder, taking and answering the published ones.
        public static let queueUpdate = Step("queue update")

        /// The step's name as it appears in messages.
        public var description: String { rawValue }
    }
}
