import Foundation

/// How the command-line tools read their etcd arguments, so that statectl and state-sidecar read
/// them alike.
public enum EtcdArguments {
    /// The endpoints of `--etcd URL[,URL…]`: split on commas, blanks trimmed, empty ones dropped.
    public static func endpoints(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The user and password of `NAME` or `NAME:PASSWORD` (the part after the first colon is the
    /// password, which may itself hold colons); without one given, `environmentPassword` (nil when
    /// there is no user: a password alone is never sent).
    public static func credentials(_ given: String?, environmentPassword: String?) -> (user: String?, password: String?) {
        guard let given else { return (nil, nil) }
        guard let colon = given.firstIndex(of: ":") else { return (given, environmentPassword) }
        return (String(given[..<colon]), String(given[given.index(after: colon)...]))
    }
}
