import Foundation
@_spi(Diagnostics) import StateCoordinator

/// The command line as the kernel passed it. Swift's `CommandLine.arguments` silently replaces
/// invalid UTF-8 with U+FFFD, which would commit a corrupted value; `/proc/self/cmdline` has the
/// raw bytes.
enum RawArguments {
    /// "argument 3 is not valid UTF-8", or nil when every argument is.
    static func firstInvalidUTF8() -> String? {
        guard let raw = ProcFile.bytes("/proc/self/cmdline") else { return nil }
        for (position, argument) in raw.split(separator: 0, omittingEmptySubsequences: false).enumerated().dropFirst() {
            if String(validating: Array(argument), as: UTF8.self) == nil {
                return "argument \(position) is not valid UTF-8; pass text as UTF-8 (JSON can escape any character as \\uXXXX)."
            }
        }
        return nil
    }
}
