#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The system's user database (`getpwuid_r`, `getpwnam_r`): names for the uids that own
/// registry entries and hold locks, and uids for the names operators type.
public enum UserAccount {
    /// The name of user `uid`, or nil when the system has none (a container's numeric user).
    public static func name(of uid: UInt32) -> String? {
        lookUp { entry, buffer, size, result in getpwuid_r(uid_t(uid), &entry, buffer, size, &result) }?.name
    }

    /// The uid of the user named `name`; a decimal number is taken as a uid as it stands.
    public static func uid(named name: String) -> UInt32? {
        if let number = UInt32(name), String(number) == name { return number }
        return lookUp { entry, buffer, size, result in getpwnam_r(name, &entry, buffer, size, &result) }?.uid
    }

    private static func lookUp(
        _ call: (inout passwd, UnsafeMutablePointer<CChar>, Int, inout UnsafeMutablePointer<passwd>?) -> CInt
    ) -> (name: String, uid: UInt32)? {
        var size = 1024
        while size <= 1 << 20 {
            var entry = passwd()
            var result: UnsafeMutablePointer<passwd>?
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: size)
            defer { buffer.deallocate() }
            let status = call(&entry, buffer, size, &result)
            if status == ERANGE {
                size *= 4
                continue
            }
            guard status == 0, result != nil, let name = entry.pw_name else { return nil }
            return (String(cString: name), UInt32(entry.pw_uid))
        }
        return nil
    }
}
