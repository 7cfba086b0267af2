// swift-tools-version:6.0
// QKLab: a small, fast trainer for tiny decoder-only transformers.
// Module order (each depends only on those before it):
//   COpenBLAS → Autograd → Transformer → Training → qklab
import PackageDescription

/// Numeric targets are always compiled optimised and for the host CPU (AVX/FMA for SIMD
/// types): the gradient checks and the trainer would otherwise run 10–50× slower in a
/// debug build.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-target-cpu", "native"]),
]

let package = Package(
    name: "QKLab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "qklab", targets: ["qklab"]),
        .executable(name: "qklab-bench", targets: ["qklab-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        .target(
            name: "Autograd",
            dependencies: ["COpenBLAS"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "Transformer",
            dependencies: ["Autograd"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "Training",
            dependencies: ["Transformer", "TOMLKit"],
            swiftSettings: numericSettings
        ),
        .executableTarget(
            name: "qklab",
            dependencies: ["Training", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "qklab-bench",
            dependencies: ["Training"],
            swiftSettings: numericSettings
        ),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd"], swiftSettings: numericSettings),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer"], resources: [.copy("Fixtures")], swiftSettings: numericSettings),
        .testTarget(name: "TrainingTests", dependencies: ["Training"], swiftSettings: numericSettings),
    ],
    swiftLanguageModes: [.v5]
)
