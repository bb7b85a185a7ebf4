/// Which registered readers a writer waits for.
public enum ReaderSelection: Sendable, Equatable {
    /// Every reader live when the wait starts (right after the commit).
    case all
    /// The readers with these labels. A label with no live reader is waited for too, until a
    /// reader with that label registers and applies the version, or the wait times out.
    case labels(Set<String>)

    func includes(_ label: String) -> Bool {
        switch self {
        case .all: true
        case .labels(let labels): labels.contains(label)
        }
    }
}
