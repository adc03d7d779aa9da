// swift-tools-version: 6.1
import PackageDescription

// Weir: a TCP and HTTP reverse proxy and load balancer.
// Targets follow ../shared/DESIGN.md §5; dependencies point down the list.
let package = Package(
    name: "Weir",
    targets: [
        .target(name: "CShims"),
        .target(name: "WeirSystem", dependencies: ["CShims"]),
        .target(name: "WeirLoop", dependencies: ["WeirSystem"]),
        .target(name: "WeirConfig"),
        .target(name: "WeirBalance"),

        .testTarget(name: "WeirSystemTests", dependencies: ["WeirSystem"]),
        .testTarget(name: "WeirLoopTests", dependencies: ["WeirLoop", "WeirSystem"]),
        .testTarget(name: "WeirConfigTests", dependencies: ["WeirConfig"]),
        .testTarget(name: "WeirBalanceTests", dependencies: ["WeirBalance"]),
        // Scenario tests spawn the built `weir` binary; depending on it makes
        // `swift test` build it first.
    ],
    swiftLanguageModes: [.v6]
)
