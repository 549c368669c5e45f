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
        // Found through pkg-config (hiredis.pc). Its Cflags carry -D_FILE_OFFSET_BITS=64,
        // which SwiftPM does not pass on and warns about on every build: the Makefile puts
        // a copy of the system's hiredis.pc without that flag first in PKG_CONFIG_PATH (off_t
        // is 64 bits on every 64-bit Linux anyway, and hiredis's reader has none).
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
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
