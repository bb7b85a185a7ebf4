import Foundation

/// Waits in an async test until a condition another thread or process changes holds (a counter,
/// a registration), polling without blocking a thread of the cooperative pool; false on timeout.
func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(2))
    }
    return condition()
}
