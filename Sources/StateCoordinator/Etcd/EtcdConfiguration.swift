/// How to reach the etcd cluster that holds a store, and where in its key space the store lives.
/// See <doc:RunningOnEtcd>.
///
/// ```swift
/// struct Risk: Codable, Sendable { var halt = false; var maxPosition = 100 }
/// let etcd = try EtcdConfiguration(endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
/// let store = try await StateStore<Risk>.openOrCreate(etcd: etcd, initial: Risk())
/// print(try await store.read().version)
/// ```
public struct EtcdConfiguration: Sendable, Equatable {
    /// The members' client URLs (`http://HOST:PORT` or `https://HOST:PORT`), tried in order: a
    /// request that cannot be served by one (refused, timed out, no leader) moves to the next.
    public var endpoints: [String]
    /// The prefix of every key the package writes; a store named `NAME` lives under `PREFIX/NAME/`.
    public var prefix: String
    /// The CA that signed the members' certificates (PEM), for `https` endpoints.
    public var caFile: String?
    /// This client's certificate (PEM), for members that require client certificates.
    public var certificateFile: String?
    /// The key of ``certificateFile`` (PEM).
    public var keyFile: String?
    /// The etcd user to authenticate as (its roles decide what this client may read and write).
    public var user: String?
    /// The password of ``user``.
    public var password: String?
    /// How long one request may take on one member before the next one is tried. When every
    /// member failed at once (an election, members restarting), they are tried again until this
    /// time has passed since the request began; a request that finds no member answering fails
    /// after about this long (each member that hangs rather than refuses gets it in full once).
    public var requestTimeout: Duration
    /// How long a watch may stay silent (no event, no progress reply) before it is given up and
    /// opened again, on the next member if need be: a member cut off from the others can keep a
    /// watch open without ever sending on it (etcd issue 8980).
    public var watchIdleTimeout: Duration
    /// The time-to-live of a registered reader's lease, and of a mirror's (<doc:FleetAcrossHosts>):
    /// how long after a reader or mirror stops keeping it alive (it died, or it was cut off from
    /// the cluster's majority) its entry disappears, and a writer waiting for acknowledgements
    /// reports it as died or unknown. Kept alive every third of it. Shorter tells sooner and
    /// costs more keep-alives; etcd grants at least its own minimum (about 2 s with default
    /// election settings), and a leader change extends every lease by up to this long again.
    public var readerLeaseTTL: Duration = .seconds(5)

    /// The default key prefix: `/statecoord/v1`.
    public static let defaultPrefix = "/statecoord/v1"

    /// A configuration, checked: every endpoint must parse, the prefix must start with `/` and
    /// not end with one, and a certificate needs its key.
    ///
    /// - Throws: ``StateStoreError/Code/invalidArgument`` naming what is wrong.
    public init(
        endpoints: [String], prefix: String = EtcdConfiguration.defaultPrefix, caFile: String? = nil, certificateFile: String? = nil,
        keyFile: String? = nil, user: String? = nil, password: String? = nil, requestTimeout: Duration = .seconds(5),
        watchIdleTimeout: Duration = .seconds(10)
    ) throws(StateStoreError) {
        self.endpoints = endpoints
        self.prefix = prefix
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.user = user
        self.password = password
        self.requestTimeout = requestTimeout
        self.watchIdleTimeout = watchIdleTimeout
        _ = try parsedEndpoints()
        try validate()
    }

    /// The endpoints as addresses.
    func parsedEndpoints() throws(StateStoreError) -> [EtcdEndpoint] {
        guard !endpoints.isEmpty else {
            throw StateStoreError(
                .invalidArgument, "No etcd endpoint was given.",
                hint: "Name at least one member's client URL, e.g. http://127.0.0.1:2379 (statectl --etcd URL[,URL…] or $STATECTL_ETCD).")
        }
        var parsed: [EtcdEndpoint] = []
        for endpoint in endpoints { parsed.append(try EtcdEndpoint(parsing: endpoint)) }
        return parsed
    }

    private func validate() throws(StateStoreError) {
        guard prefix.hasPrefix("/"), !prefix.hasSuffix("/"), !prefix.contains("//"), prefix.utf8.count <= 512 else {
            throw StateStoreError(
                .invalidArgument, "The etcd key prefix \"\(prefix)\" must start with \"/\", not end with one, and have no empty segment.",
                hint: "Use something like \(Self.defaultPrefix) (the default).")
        }
        guard (certificateFile == nil) == (keyFile == nil) else {
            throw StateStoreError(
                .invalidArgument, "A client certificate needs its key, and a key its certificate: give both or neither.",
                hint: "statectl --cert FILE --key FILE")
        }
        guard (password == nil) || (user != nil) else {
            throw StateStoreError(.invalidArgument, "An etcd password was given without a user.", hint: "Give the user too (statectl --user NAME[:PASSWORD]).")
        }
        guard requestTimeout > .zero, watchIdleTimeout > .zero else {
            throw StateStoreError(.invalidArgument, "The etcd request and watch timeouts must be positive.")
        }
    }
}

extension EtcdConfiguration: CustomStringConvertible {
    /// The endpoints, the prefix and the user, never the password.
    public var description: String {
        var text = "etcd \(endpoints.joined(separator: ",")) prefix \(prefix)"
        if let user { text += " user \(user)" + (password == nil ? "" : " (password set)") }
        if caFile != nil || certificateFile != nil { text += " TLS" }
        return text
    }
}
