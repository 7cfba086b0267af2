// swift-tools-version:6.1
// QKLab: a small, fast trainer for tiny decoder-only transformers.
// The package graph is the architecture; each module imports only those it points from:
//
//   COpenBLAS ──┐
//   CLibXSMM ───┼→ Autograd → Transformer ─┐
//   CVectorMath ┘                          ├→ Training → HuggingFace ─┐
//   Formats ───────────────────────────────┘                          ├→ qklab
//   Formats ──────────────────────────────→ Study ────────────────────┘
//   Formats, Training ──────────────────────────────────────────────────────→ qklab-bench
//   CMPI ┄┄(trait MPI)┄┄→ Multiprocess ─────────────────────────────────────→ qklab, qklab-mpi-check
//
//   Autograd     tensors, reverse-mode autograd, the ops and kernels (the only user of COpenBLAS,
//                of CLibXSMM, libxsmm's just-in-time kernels for short inner dimensions, and of
//                CVectorMath, vector instructions Swift cannot spell: one header, no library)
//   Transformer  the model of docs/spec/model.md, batch shards
//   Formats      the files QKLab reads and writes: safetensors, TensorBoard events, TOML,
//                metrics.jsonl, the run folder's layout (Foundation and TOMLKit only)
//   Training     config, data, AdamW, the trainer, checkpoints, evaluation, generation
//   HuggingFace  export, import (--init-from), sequence logits
//   Study        compare, statistics, charts, sweeps: reads run folders through Formats and
//                never imports Autograd, Transformer or Training
//   CMPI         system library: Open MPI's mpi.h and accessors for its macros (only with the
//                trait MPI: `swift build --traits MPI`)
//   Multiprocess the process group: rank, size, hosts, collectives, gradients summed in global
//                shard order, job-wide abort; a group of one without the trait or mpirun
import PackageDescription

/// Numeric targets are always compiled optimised and for the host CPU (AVX/FMA for SIMD
/// types): the gradient checks and the trainer would otherwise run 10–50× slower in a
/// debug build.
let numericSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-target-cpu", "native"])
]

/// libxsmm's kernels are x86-64 code (Debian ships libxsmm-dev for amd64 only): on other CPUs
/// Autograd leaves every product to OpenBLAS (`SmallProducts.isAvailable` is false).
#if arch(x86_64)
    let smallProductLibraries: [Target.Dependency] = ["CLibXSMM"]
#else
    let smallProductLibraries: [Target.Dependency] = []
#endif

let package = Package(
    name: "QKLab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "qklab", targets: ["qklab"]),
        .executable(name: "qklab-bench", targets: ["qklab-bench"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Run across processes and machines with Open MPI (needs libopenmpi-dev).")
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
        .systemLibrary(
            name: "CLibXSMM",
            pkgConfig: "libxsmm",
            providers: [.apt(["libxsmm-dev"])]
        ),
        .systemLibrary(name: "CVectorMath"),
        .target(
            name: "Autograd",
            dependencies: ["COpenBLAS", "CVectorMath"] + smallProductLibraries,
            swiftSettings: numericSettings
        ),
        .target(
            name: "Transformer",
            dependencies: ["Autograd"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "Formats",
            dependencies: ["TOMLKit"]
        ),
        .target(
            name: "Training",
            dependencies: ["Transformer", "Formats", "TOMLKit"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "HuggingFace",
            dependencies: ["Training", "Formats"],
            swiftSettings: numericSettings
        ),
        .target(
            name: "Study",
            dependencies: ["Formats", "TOMLKit"]
        ),
        .executableTarget(
            name: "qklab",
            dependencies: [
                "Training", "HuggingFace", "Study", "Multiprocess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "qklab-bench",
            dependencies: ["Formats", "Training", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: numericSettings
        ),
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]
        ),
        .target(
            name: "Multiprocess",
            dependencies: [.target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),
        .executableTarget(
            name: "qklab-mpi-check",
            dependencies: ["Multiprocess", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),
        .testTarget(name: "MultiprocessTests", dependencies: ["Multiprocess"]),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd"], swiftSettings: numericSettings),
        .testTarget(
            name: "TransformerTests", dependencies: ["Transformer"], resources: [.copy("Fixtures")],
            swiftSettings: numericSettings),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "TestSupport"], swiftSettings: numericSettings),
        .testTarget(
            name: "HuggingFaceTests", dependencies: ["HuggingFace", "TestSupport"], swiftSettings: numericSettings),
        .testTarget(name: "StudyTests", dependencies: ["Study", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
