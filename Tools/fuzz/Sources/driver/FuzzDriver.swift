/// Runs libFuzzer's driver on one of the package's fuzz targets. SwiftPM links an executable's
/// `main` to `<module>_main`, which each target defines as a call to ``run(_:_:target:)``.
public enum FuzzDriver {
    /// The target the C callback hands each input to (set once, before the driver starts).
    nonisolated(unsafe) private static var target: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }

    /// Starts libFuzzer with the process's arguments; returns its exit status.
    public static func run(
        _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        target: @escaping (UnsafeBufferPointer<UInt8>) -> Void
    ) -> Int32 {
        Self.target = target
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
    }

    fileprivate static func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        target(UnsafeBufferPointer(start: data, count: size))
    }
}

/// libFuzzer's per-input callback (parts of libFuzzer refer to it by this name).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzDriver.fuzz(data, size)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32
