// swift-tools-version: 6.0
import PackageDescription

// Kernels are written with Swift SIMD types; without an explicit CPU target the
// compiler emits SSE2 only and `addingProduct` becomes a libm call per lane.
// `cascadelake` = AVX-512 F/CD/BW/DQ/VL + VNNI + FMA: the common subset of every
// machine we run on (Intel Cascade Lake / Emerald Rapids, AMD Zen 4). Anything
// beyond it (AVX512-BF16, AMX) is detected at run time, never assumed.
#if arch(x86_64)
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "cascadelake"])]
#else
let cpuFlags: [SwiftSetting] = []
#endif

let kernelFlags: [SwiftSetting] = cpuFlags + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Verdant",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "verdant", targets: ["verdant"]),
        .library(name: "VerdantTensors", targets: ["VerdantTensors"]),
        .library(name: "VerdantTokenizer", targets: ["VerdantTokenizer"]),
        .library(name: "VerdantModels", targets: ["VerdantModels"]),
        .library(name: "VerdantEval", targets: ["VerdantEval"]),
        .library(name: "VerdantCompress", targets: ["VerdantCompress"]),
        .library(name: "VerdantTraining", targets: ["VerdantTraining"]),
        .library(name: "VerdantSearch", targets: ["VerdantSearch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Tensors, numeric kernels, thread pool, CPU feature detection.
        .target(name: "VerdantTensors", swiftSettings: kernelFlags),
        // liblzma, for training text shipped as .jsonl.xz (decompressed as a stream).
        .systemLibrary(name: "CLZMA", pkgConfig: "liblzma",
                       providers: [.apt(["liblzma-dev"]), .brew(["xz"])]),
        // Hugging Face tokenizer.json (byte-level BPE and friends).
        .target(name: "VerdantTokenizer", swiftSettings: kernelFlags),
        // Checkpoint formats (safetensors, config.json), architectures, generation.
        .target(name: "VerdantModels", dependencies: ["VerdantTensors", "VerdantTokenizer"],
                swiftSettings: kernelFlags),
        // Effectiveness and green measurement: perplexity, code tasks, speed, energy.
        .target(name: "VerdantEval", dependencies: ["VerdantModels", "VerdantTensors", "VerdantTokenizer"],
                swiftSettings: kernelFlags),
        // Compression: quantization, pruning (and later distillation, search).
        .target(name: "VerdantCompress",
                dependencies: ["VerdantEval", "VerdantModels", "VerdantTensors", "VerdantTokenizer",
                               "VerdantTraining"],
                swiftSettings: kernelFlags),
        // Training on CPU: optimizer, schedules, data streams, checkpoints (distillation,
        // fine-tuning and Group Lasso build on it).
        .target(name: "VerdantTraining",
                dependencies: ["CLZMA", "VerdantModels", "VerdantTensors", "VerdantTokenizer"],
                swiftSettings: kernelFlags),
        // Z3's C API (Debian libz3-dev): the SMT solver that proves student configurations legal.
        .systemLibrary(name: "CZ3", pkgConfig: "z3", providers: [.apt(["libz3-dev"])]),
        // Student configuration search (Avatar): SMT-constrained space, surrogate, NSGA-II, cost model.
        .target(name: "VerdantSearch", dependencies: ["CZ3", "VerdantEval", "VerdantModels", "VerdantTensors"],
                swiftSettings: cpuFlags),
        .executableTarget(
            name: "verdant",
            dependencies: [
                "VerdantCompress", "VerdantEval", "VerdantModels", "VerdantTensors", "VerdantTokenizer",
                "VerdantTraining", "VerdantSearch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: cpuFlags),
        .testTarget(name: "VerdantTensorsTests", dependencies: ["VerdantTensors"],
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "VerdantTokenizerTests", dependencies: ["VerdantTokenizer"],
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "VerdantModelsTests", dependencies: ["VerdantModels", "VerdantTensors", "VerdantEval"],
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "VerdantCompressTests",
                    dependencies: ["VerdantCompress", "VerdantModels", "VerdantTensors", "VerdantEval", "VerdantTokenizer",
                                   "VerdantTraining"],
                    exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "VerdantEvalTests",
                    dependencies: ["VerdantEval", "VerdantModels", "VerdantTensors", "VerdantTokenizer"],
                    swiftSettings: cpuFlags),
        .testTarget(name: "VerdantTrainingTests",
                    dependencies: ["VerdantTraining", "VerdantModels", "VerdantTensors", "VerdantTokenizer"],
                    resources: [.copy("Fixtures")], swiftSettings: cpuFlags),
        .testTarget(name: "VerdantSearchTests",
                    dependencies: ["VerdantSearch", "VerdantCompress", "VerdantEval", "VerdantModels", "VerdantTensors"],
                    swiftSettings: cpuFlags),
        // Runs the built `verdant` binary: exit codes and messages on bad input.
        .testTarget(name: "VerdantCLITests", dependencies: ["verdant"]),
    ],
    swiftLanguageModes: [.v6]
)
