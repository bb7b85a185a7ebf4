/// Who committed a version: recorded in every state file's header.
public struct WriterIdentity: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The writer's process id.
    public var pid: Int32
    /// The writer's host name (`gethostname`).
    public var host: String
    /// A label the writing process chose (``StateStoreOptions/label``), e.g. `bot-eu-1`.
    public var label: String

    /// Creates a writer identity.
    public init(pid: Int32, host: String, label: String) {
        self.pid = pid
        self.host = host
        self.label = label
    }

    /// `bot-eu-1 (pid 4242 on host-a)`.
    /// `bot-eu-1 (pid 4242 on bot-host)`, safe for a terminal (a foreign writer's header may say anything).
    public var description: String { TerminalText.safe("\(label) (pid \(pid) on \(host))") }
}
