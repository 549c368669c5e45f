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
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // OpenSSL's TLS engine for rediss://, from Debian's libssl-dev, under redlock's own
        // non-blocking sockets.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
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
        .testTarget(
            name: "RedlockCoreTests",
            dependencies: ["RedlockCore", "redlock"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["RedlockCore"]
        ),
    ]
)
