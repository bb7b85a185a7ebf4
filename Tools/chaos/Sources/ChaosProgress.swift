import Foundation
import Synchronization

/// What the killer has done so far, for the progress lines (read on the reporter's thread).
final class ChaosProgress: Sendable {
    struct Figures: Sendable {
        var since = Date()
        var kills = 0
        /// Reader processes that exited before they were told to: each one is a violation.
        var readersGone = 0
    }

    let figures = Mutex(Figures())
}
