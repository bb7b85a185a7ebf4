/// Which registered readers a writer waits for.
public enum ReaderSelection: Sendable, Equatable {
    /// Every reader live when the wait starts (right after the commit) that counts: run by one
    /// of the store's ``StoreSettings/readerUsers`` when it names any.
    case all
    /// The readers with these labels, run by whichever user. A label with no live reader is
    /// waited for too, until a reader with that label registers and applies the version, or the
    /// wait times out. Any user may register any label: prefer ``named(_:)`` with owners.
    case labels(Set<String>)
    /// The readers with these labels, each run by the user it names when it names one
    /// (`bot-eu-1@botuser`): a reader with the label run by anyone else does not count.
    case named(Set<ReaderName>)

    /// The readers asked for by name; nil for ``all``.
    public var wanted: Set<ReaderName>? {
        switch self {
        case .all: nil
        case .labels(let labels): Set(labels.map { ReaderName(label: $0) })
        case .named(let names): names
        }
    }

    func includes(_ reader: RegisteredReader) -> Bool {
        guard let wanted else { return true }
        return wanted.contains { $0.matches(reader) }
    }
}

/// A reader asked for by label, and by the user it must run as.
public struct ReaderName: Sendable, Hashable, CustomStringConvertible {
    /// The label the reader registered with.
    public var label: String
    /// The user the reader must run as; nil accepts any.
    public var owner: UInt32?

    /// Names a reader.
    public init(label: String, owner: UInt32? = nil) {
        self.label = label
        self.owner = owner
    }

    /// Reads `label@user` (a user name or a uid; the text after the last `@`) or a bare label.
    ///
    /// - Throws: ``StateStoreError/Code/invalidArgument`` when the text after `@` names no user
    ///   of this system, or the label is empty.
    public init(parsing text: String) throws(StateStoreError) {
        guard let at = text.lastIndex(of: "@") else {
            self.init(label: text)
            return
        }
        let label = String(text[..<at])
        let user = String(text[text.index(after: at)...])
        guard !label.isEmpty else {
            throw StateStoreError(.invalidArgument, "\"\(TerminalText.safe(text))\" names no label before its @.",
                hint: "Write LABEL@USER, for example bot-eu-1@botuser.")
        }
        guard let uid = UserAccount.uid(named: user) else {
            throw StateStoreError(
                .invalidArgument, "\"\(TerminalText.safe(user))\" (after the last @ of \"\(TerminalText.safe(text))\") is no user of this system.",
                hint: "Write LABEL@USER with a user name or uid the reader runs as; a label that contains @ needs @USER after it.")
        }
        self.init(label: label, owner: uid)
    }

    /// Whether `reader` is this one.
    public func matches(_ reader: RegisteredReader) -> Bool {
        reader.label == label && (owner == nil || reader.owner == owner)
    }

    /// `label@user` (the user's name, or its uid when it has none), or the label alone.
    public var description: String {
        guard let owner else { return label }
        return label + "@" + (UserAccount.name(of: owner) ?? String(owner))
    }
}
