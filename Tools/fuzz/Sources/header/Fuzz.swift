import FuzzDriver
@_spi(Fuzzing) import StateCoordinator

/// `main` of this fuzzer (see `FuzzDriver`).
@_cdecl("fuzz_header_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    FuzzDriver.run(argc, argv, target: FuzzTargets.header)
}
