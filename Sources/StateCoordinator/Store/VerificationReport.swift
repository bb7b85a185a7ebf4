/// What ``ReadableStateStore/verify()-7fic0`` found: damage, which needs an operator, and leftovers of
/// a crash or of a commit in flight, which writers repair by themselves (see each kind).
///
/// A program acts on ``problems`` by ``VerificationProblem/kind``; the sentences are for people.
public struct VerificationReport: Sendable, Equatable {
    /// Every problem found, in the order the checks ran (state file, lockfile, temp files, history).
    public var problems: [VerificationProblem]
    /// The current version, when the state file verified.
    public var currentVersion: UInt64?

    /// A report listing `problems`.
    public init(problems: [VerificationProblem] = [], currentVersion: UInt64? = nil) {
        self.problems = problems
        self.currentVersion = currentVersion
    }

    /// The problems that make the store unusable or untrustworthy.
    public var damage: [VerificationProblem] { problems.filter { $0.kind.isDamage } }
    /// The harmless leftovers writers repair by themselves.
    public var leftovers: [VerificationProblem] { problems.filter { !$0.kind.isDamage } }
    /// Whether nothing is damaged (leftovers are allowed).
    public var isHealthy: Bool { damage.isEmpty }
}

/// One thing ``ReadableStateStore/verify()-7fic0`` found.
public struct VerificationProblem: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, for a program to act on.
    public var kind: Kind
    /// The file concerned.
    public var path: String
    /// One sentence for an operator: what is wrong and what repairs it.
    public var description: String
    /// The error the check raised, when it was one (a bad checksum, an errno).
    public var error: StateStoreError?

    /// Problems are equal when their kind, path and description are (the errors they carry are
    /// not compared).
    public static func == (lhs: VerificationProblem, rhs: VerificationProblem) -> Bool {
        lhs.kind == rhs.kind && lhs.path == rhs.path && lhs.description == rhs.description
    }

    /// A problem of `kind` at `path`.
    public init(_ kind: Kind, path: String, description: String, error: StateStoreError? = nil) {
        self.kind = kind
        self.path = path
        self.description = description
        self.error = error
    }

    /// The kinds of problem, each damage or a leftover (``isDamage``).
    public enum Kind: String, Sendable, CaseIterable, Equatable {
        /// The state file cannot be read or fails verification (``error`` says why).
        case stateFileUnreadable = "state-file-unreadable"
        /// The state file passes its checksum but its state is not JSON: a writer that does not
        /// follow the protocol wrote it (``error`` has the parser's message).
        case stateNotJSON = "state-not-json"
        /// The state file is a plain JSON file, not a store's: import it (the description says how).
        case stateFileIsPlainJSON = "state-file-plain-json"
        /// There is no lockfile, so writers cannot serialize.
        case lockFileMissing = "lockfile-missing"
        /// The lockfile is a symbolic link, a FIFO or another non-regular file; writers refuse it.
        case lockFileNotRegular = "lockfile-not-regular"
        /// Someone who is not a writer can open the lockfile (others, or a group that only
        /// reads): `flock` needs only read access, so they can hold the lock and block every commit.
        case lockFileOpenToReaders = "lockfile-open-to-readers"
        /// The lockfile or the directory could not be examined (``error`` has the errno).
        case unreadable = "unreadable"
        /// A kept version fails verification or holds another version than its name says.
        case historyEntryDamaged = "history-entry-damaged"
        /// A kept version is newer than the current one, or differs from the current one of the same number.
        case historyAheadOfState = "history-ahead-of-state"
        /// The current state breaks the store's schema (a foreign writer committed it), or the
        /// schema file it names is missing or was changed; ``error`` has the violation.
        case schemaViolation = "schema-violation"
        /// Leftover: a temp file of a writer that died mid-commit (writers' commits remove it, within a second).
        case orphanTempFile = "orphan-temp-file"
        /// Leftover: the current version is already linked into history (a commit in flight, or
        /// one that died before its rename).
        case currentVersionInHistory = "current-version-in-history"
        /// Leftover: more kept versions than `keepHistory` (the next commit prunes them).
        case historyOverLimit = "history-over-limit"
        /// Leftover: a kept version of an earlier identity of the store.
        case historyOfEarlierIdentity = "history-of-earlier-identity"

        /// Whether this kind needs an operator (else writers repair it by themselves).
        public var isDamage: Bool {
            switch self {
            case .stateFileUnreadable, .stateNotJSON, .stateFileIsPlainJSON, .lockFileMissing, .lockFileNotRegular, .lockFileOpenToReaders, .unreadable,
                .historyEntryDamaged, .historyAheadOfState, .schemaViolation:
                true
            case .orphanTempFile, .currentVersionInHistory, .historyOverLimit, .historyOfEarlierIdentity:
                false
            }
        }
    }
}
