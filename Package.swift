// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "redlock",
    products: [
        .executable(name: "redlock", targets: ["redlock"]),
        .library(name: "RedlockCore", targets: ["RedlockCore"]),
    ],
    targets: [
        // hiredis's RESP reply reader and command formatter, from Debian's libhiredis-dev.
        // Not through pkg-config: hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM
        // refuses with a warning on every build; the headers are under /usr/include and
        // the module map links libhiredis, so the .pc file has nothing else to give.
        .systemLibrary(name: "CHiredis"),
        // OpenSSL for rediss://, loaded with dlopen on first use (see copenssl.h): runs
        // without TLS do not load or relocate libssl. Headers from libssl-dev.
        .target(name: "COpenSSL"),
        // Linux calls that Glibc's Swift module lacks (signalfd, getrandom), and fork + exec
        // with a parent-death signal, which posix_spawn cannot set.
        .target(name: "CLinux"),
        .target(
            name: "RedlockCore",
            dependencies: ["CHiredis", "COpenSSL", "CLinux"]
        ),
        .executableTarget(
            name: "redlock",
            dependencies: ["RedlockCore"]
        ),
        // `make bench`: redlock against flock, measured in the same run. Not installed.
        .executableTarget(
            name: "redlock-bench",
            dependencies: ["RedlockCore"]
        ),
        // What the test targets share: starting and reaping children with posix_spawn (clean
        // signal mask and dispositions, own process group), a seeded random generator.
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        // The core, without servers.
        .testTarget(
            name: "RedlockCoreTests",
            dependencies: ["RedlockCore", "TestSupport"]
        ),
        // The command line: parser, option table, and its agreement with man page,
        // completions and README.
        .testTarget(
            name: "RedlockCLITests",
            dependencies: ["redlock", "RedlockCore", "TestSupport"]
        ),
        // The redlock binary (REDLOCK_BIN, else the debug build) against real redis-servers.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["RedlockCore", "TestSupport"]
        ),
    ]
)
