extension WriterIdentity {
    /// This process, with the given label.
    static func current(label: String) -> WriterIdentity {
        WriterIdentity(pid: ProcessIdentity.id, host: ProcessIdentity.hostName, label: label)
    }
}

extension WriterIdentity {
    /// Checks a writer's label as a reader's is checked: 1 to 200 bytes, no control or formatting
    /// characters (it is printed on operators' terminals by `history` and `status`).
    static func validate(label: String) throws(StateStoreError) {
        guard !label.isEmpty, label.utf8.count <= 200, !label.unicodeScalars.contains(where: { TerminalText.isUnsafe($0) }) else {
            throw StateStoreError(
                .invalidArgument, "Writer label \"\(TerminalText.safe(label))\" is not allowed.",
                hint: "Use 1 to 200 bytes without control or formatting characters, for example the bot's name; nothing was changed.")
        }
    }
}
