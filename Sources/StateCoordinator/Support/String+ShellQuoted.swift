import Foundation

extension String {
    /// The string as one word for a POSIX shell: as it is when it holds only characters no shell
    /// treats specially, else in single quotes (so a hint's command can be pasted as it is).
    var shellQuoted: String {
        let plain = !isEmpty && allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:,@%".contains($0)) }
        return plain ? self : "'" + replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
