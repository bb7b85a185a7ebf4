extension WriterIdentity {
    /// This process, with the given label.
    static func current(label: String) -> WriterIdentity {
        WriterIdentity(pid: ProcessIdentity.id, host: ProcessIdentity.hostName, label: label)
    }
}
