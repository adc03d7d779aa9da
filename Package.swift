// swift-tools-version: 6.1
import PackageDescription

// Weir: a TCP and HTTP reverse proxy and load balancer.
// Targets follow ../shared/DESIGN.md §5; dependencies point down the list.
let package = Package(
    name: "Weir",
    products: [
        .executable(name: "weir", targets: ["weir"]),
    ],
    dependencies: [
        // Atomics on the shared-memory segment (server state, connection counts).
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // Also OpenSSL's macros (tls.c), hence libssl.
        .target(name: "CShims", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .target(name: "WeirSystem", dependencies: ["CShims"]),
        .target(name: "WeirLoop", dependencies: ["WeirSystem"]),
        .target(name: "WeirConfig"),
        .target(name: "WeirBalance"),
        .target(name: "WeirHTTP"),
        // HTTP response compression: a streaming deflate encoder (pure, no syscalls).
        .target(name: "WeirDeflate"),
        .target(name: "WeirDNS"),
        .target(name: "WeirShared", dependencies: ["WeirSystem", "WeirLoop", "WeirConfig", "WeirDNS", .product(name: "Atomics", package: "swift-atomics")]),
        .target(name: "WeirTLS", dependencies: ["COpenSSL", "CShims", "WeirSystem", "WeirConfig", "WeirShared"]),
        .target(name: "WeirHealth", dependencies: ["WeirSystem", "WeirLoop", "WeirConfig", "WeirHTTP", "WeirTLS", "WeirShared"]),
        .target(name: "WeirProxy", dependencies: ["WeirSystem", "WeirLoop", "WeirConfig", "WeirBalance", "WeirHTTP", "WeirShared",
                                              "WeirHealth", "WeirTLS", "WeirDeflate"],
                // crypt_r for http_auth with hashed passwords.
                linkerSettings: [.linkedLibrary("crypt")]),
        .target(name: "WeirMaster", dependencies: ["WeirSystem", "WeirLoop", "WeirConfig", "WeirShared", "WeirHealth",
                                                  "CSystemd", "WeirTLS"]),
        .executableTarget(name: "weir", dependencies: ["WeirProxy", "WeirMaster", "WeirShared", "WeirConfig", "WeirSystem", "COpenSSL", "WeirTLS", "CShims"]),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "WeirHTTPFuzz", dependencies: ["WeirHTTP", "WeirDeflate", "CFuzzDriver"]),

        .testTarget(name: "WeirSystemTests", dependencies: ["WeirSystem", "CShims"]),
        .testTarget(name: "WeirLoopTests", dependencies: ["WeirLoop", "WeirSystem"]),
        .testTarget(name: "WeirConfigTests", dependencies: ["WeirConfig"]),
        .testTarget(name: "WeirBalanceTests", dependencies: ["WeirBalance"]),
        .testTarget(name: "WeirHTTPTests", dependencies: ["WeirHTTP"]),
        .testTarget(name: "WeirDeflateTests", dependencies: ["WeirDeflate"]),
        .testTarget(name: "WeirDNSTests", dependencies: ["WeirDNS"]),
        .testTarget(name: "WeirTLSTests", dependencies: ["WeirTLS", "WeirConfig", "WeirShared"]),
        .testTarget(name: "WeirProxyTests", dependencies: ["WeirProxy", "WeirConfig"]),
        .testTarget(name: "WeirHealthTests", dependencies: ["WeirHealth", "WeirConfig", "WeirLoop", "WeirSystem", "WeirShared"]),
        .testTarget(name: "WeirSharedTests", dependencies: ["WeirShared", "WeirConfig", "WeirSystem"]),
        // Scenario tests spawn the built `weir` binary; depending on it makes
        // `swift test` build it first.
        .testTarget(name: "WeirIntegrationTests", dependencies: ["weir"]),
    ],
    swiftLanguageModes: [.v6]
)
