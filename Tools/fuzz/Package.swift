// swift-tools-version:6.0
// libFuzzer targets for the package's parsers. A package of its own, because every target is
// built with `-sanitize=fuzzer,address -parse-as-library` (libFuzzer supplies `main`):
//   Tools/fuzz/run [SECONDS]   builds them and runs each for SECONDS (default 30) on its corpus.
import PackageDescription

let targets = ["state-file", "header", "json", "pointer"]

let package = Package(
    name: "StateCoordinatorFuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
    dependencies: [.package(name: "StateCoordinator", path: "../..")],
    targets: [.target(name: "FuzzDriver", path: "Sources/driver")]
        + targets.map {
            .executableTarget(
                name: "fuzz-\($0)",
                dependencies: ["FuzzDriver", .product(name: "StateCoordinator", package: "StateCoordinator")],
                path: "Sources/\($0)")
        },
    swiftLanguageModes: [.v6]
)
