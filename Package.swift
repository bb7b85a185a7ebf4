// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "StateCoordinator",
    // Linux only (inotify, /proc/locks, flock semantics): no Apple platform is claimed.
    products: [
        .library(name: "StateCoordinator", targets: ["StateCoordinator"]),
        .executable(name: "statectl", targets: ["statectl"]),
        .executable(name: "state-sidecar", targets: ["state-sidecar"]),
        .executable(name: "state-demo", targets: ["state-demo"]),
        .executable(name: "state-bench", targets: ["state-bench"]),
        .executable(name: "state-chaos", targets: ["state-chaos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // etcd's v3 API (the store on etcd): gRPC over HTTP/2, code generated once from Tools/etcd-proto.
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    ],
    targets: [
        // libinotifytools, the project's chosen inotify binding (Debian: libinotifytools0-dev).
        .systemLibrary(
            name: "CInotifyTools",
            providers: [.apt(["libinotifytools0-dev"])]
        ),
        // Two libc calls Swift cannot import directly (flock, fstatfs).
        .target(name: "CSystemShims"),
        // JSON values, the parser and writer, pointers (RFC 6901), patches (RFC 6902, 7386): no I/O.
        .target(name: "StateJSON"),
        .target(
            name: "StateCoordinator",
            dependencies: [
                "StateJSON",
                "CInotifyTools",
                "CSystemShims",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
        // The JSON documents statectl prints and the sidecar serves (status, readers), in one place.
        .target(name: "StateDocuments", dependencies: ["StateCoordinator"]),
        .executableTarget(
            name: "statectl",
            dependencies: [
                "StateCoordinator",
                "StateDocuments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The monitoring sidecar: read-only, HTTP or HTTPS (Hummingbird 2, HummingbirdTLS), Prometheus text format (swift-prometheus).
        .executableTarget(
            name: "state-sidecar",
            dependencies: [
                "StateCoordinator",
                "StateDocuments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "state-demo",
            dependencies: [
                "StateCoordinator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/demo/Sources"
        ),
        // Progress lines on stderr for the long-running tools (a bar on a terminal, a line every 10 s otherwise).
        .target(name: "ToolProgress", path: "Tools/progress/Sources"),
        // etcd members on loopback for the bench and the chaos harness (Tools/etcd-cluster).
        .target(name: "ToolEtcd", path: "Tools/etcd-cluster/Sources"),
        .executableTarget(
            name: "state-bench",
            dependencies: [
                "StateCoordinator",
                "ToolProgress",
                "ToolEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tools/bench/Sources"
        ),
        .executableTarget(
            name: "state-chaos",
            dependencies: [
                "StateCoordinator",
                "ToolProgress",
                "ToolEtcd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/chaos/Sources"
        ),
        // The documentation's Swift examples, compiled as written (Tools/docs/extract-examples).
        .executableTarget(
            name: "doc-examples",
            dependencies: ["StateCoordinator"],
            path: "Tools/docs/Examples"
        ),
        // The C floor the benchmark compares against: the protocol's raw system calls only.
        .executableTarget(
            name: "state-floor", path: "Tools/bench/Floor",
            linkerSettings: [.linkedLibrary("sqlite3"), .linkedLibrary("inotifytools"), .linkedLibrary("crypto")]),
        .executableTarget(
            name: "StateCoordinatorTestHelper",
            dependencies: ["StateCoordinator"],
            path: "Tests/StateCoordinatorTestHelper"
        ),
        .testTarget(
            name: "StateCoordinatorTests",
            dependencies: [
                "StateCoordinator", "StateJSON", "StateCoordinatorTestHelper", "statectl", "state-chaos", "state-sidecar", "state-demo",
                "ToolEtcd",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            // The JSON test vectors are read from the source tree (#filePath), also by Python.
            exclude: ["Vectors", "Golden"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
