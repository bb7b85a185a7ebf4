#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The identity of a thread (`pthread_self`), comparable: what the re-entrancy checks (a mutation
/// updating its own store, a loop call from the loop thread) ask about the calling thread.
struct ThreadIdentity: Sendable, Hashable {
    private let raw: UInt

    /// The calling thread.
    static var current: ThreadIdentity { ThreadIdentity(raw: UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))) }
}
