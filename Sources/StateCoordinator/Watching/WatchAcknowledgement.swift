/// When a registered watch (`watch(_:label:acknowledgement:options:)`) tells waiting writers that
/// a version was applied.
public enum WatchAcknowledgement: Sendable, Equatable {
    /// Only when the application calls ``StateWatch/acknowledge(_:)``.
    case manual
    /// Each version once the `for await` body that received it has finished: when the loop asks
    /// for the next event. A body that ends the loop (`break`) does not acknowledge its version.
    case afterEachIteration
}
