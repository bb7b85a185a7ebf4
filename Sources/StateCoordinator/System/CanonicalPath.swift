#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `realpath(3)`: the path with every symbolic link and `..` resolved; nil when it names nothing.
func canonicalPath(of path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}
