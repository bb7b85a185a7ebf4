/// Text for an operator's terminal: every control character (C0, DEL, C1: escape sequences that
/// move the cursor, retitle the window or clear the screen) and every formatting character
/// (bidirectional overrides that reorder what is shown, zero-width characters) is shown as `?`.
///
/// Use it on every human-readable line that carries text others choose: a lock holder's command
/// line, writer and reader labels and hosts, member names in messages.
public enum TerminalText {
    /// `text` with its control and formatting characters shown as `?`.
    public static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { isUnsafe($0) ? "?" : $0 }))
    }

    static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format: true
        default: false
        }
    }
}
