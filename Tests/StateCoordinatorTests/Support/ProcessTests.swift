import Testing

/// The suites that start many real processes (writers, readers, the chaos harness) run one at a
/// time: on a 2-core machine, running them side by side would make their latency checks
/// (a reader caught up within 1 s, a lock handed over at once) measure the other suites' load.
@Suite(.serialized)
enum ProcessTests {}
