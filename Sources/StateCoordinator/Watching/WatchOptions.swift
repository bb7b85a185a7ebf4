/// How a watcher follows a store.
public struct WatchOptions: Sendable {
    /// The default polling interval: 100 ms.
    public static var defaultPollInterval: Duration { .milliseconds(100) }
    /// The default interval of the consistency check alongside inotify: 1 s.
    public static var defaultConsistencyCheckInterval: Duration { .seconds(1) }

    /// Poll even where inotify works (for tests, or file systems whose notification you distrust).
    public var forcePolling = false
    /// How often to re-check the state file when polling.
    public var pollInterval: Duration = WatchOptions.defaultPollInterval
    /// Alongside inotify, how often to compare the state file with the last delivered version,
    /// so that a notification lost for any reason delays a change by at most this interval (each
    /// such catch is counted in ``WatchStatistics/missedEvents``). nil turns the check off.
    public var consistencyCheckInterval: Duration? = WatchOptions.defaultConsistencyCheckInterval
    /// While polling because inotify failed (too many instances or watches, a lost instance), how
    /// often to try inotify again. Default 5 s.
    public var inotifyRetryInterval: Duration = .seconds(5)

    /// Options with the defaults.
    public init() {}

    /// Options with the given values.
    public init(
        forcePolling: Bool = false, pollInterval: Duration = WatchOptions.defaultPollInterval,
        consistencyCheckInterval: Duration? = WatchOptions.defaultConsistencyCheckInterval
    ) {
        self.forcePolling = forcePolling
        self.pollInterval = pollInterval
        self.consistencyCheckInterval = consistencyCheckInterval
    }
}
