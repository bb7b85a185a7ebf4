/// The unprivileged local user the attack tests run as: uid 4243 in group 4242 (the store's
/// group in those tests), through util-linux `setpriv`; no account needs to exist.
enum SecondUser {
    static let uid = "4243"
    static let gid = "4242"
    /// `setpriv` arguments that run the rest of a command line as the second user.
    static let setpriv = ["setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups"]
    /// The same, as shell words.
    static var shellPrefix: String { setpriv.joined(separator: " ") }
}
