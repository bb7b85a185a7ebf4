/// A repeating timer run by the ``WatchLoop``: cancelled by ``cancel()`` or when dropped.
final class LoopTimer: Sendable {
    private let id: UInt64
    private let loop: WatchLoop

    init(id: UInt64, loop: WatchLoop) {
        self.id = id
        self.loop = loop
    }

    /// Stops the timer; its action may run once more if the loop is running it right now.
    func cancel() { loop.cancelTimer(id) }

    deinit { loop.cancelTimer(id) }
}
