import Glibc
import RedlockCore

/// What every measure needs: the two tools under test, the servers, the scratch directory.
///
/// The redlock binary is the one built next to this bench (same folder), so `make bench`
/// always measures the release build it just made, with the static Swift runtime that is
/// shipped; flock is whatever flock(1) the machine has, found on PATH.
struct Context {
    let redlock: String
    let flock: String
    let workspace: Workspace
    /// Five servers; a measure on N instances uses the first N.
    let servers: [RedisInstance]
    /// Date, machine, nproc and versions: the table's first line.
    let header: String

    static let instanceCounts = [1, 3, 5]

    /// Finds the tools and starts the servers; throws when anything is missing, since then
    /// nothing could be measured.
    static func prepare(_ workspace: Workspace) throws(BenchError) -> Context {
        // The binary `make install` ships (stripped), when make bench names it; else the one
        // beside this bench binary.
        let redlock = getenv("REDLOCK_BIN").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? siblingExecutable("redlock")
        guard access(redlock, X_OK) == 0 else {
            throw BenchError("no redlock binary at \(redlock) (build it: swift build -c release --static-swift-stdlib)")
        }
        guard let flock = searchPath("flock") else { throw BenchError("flock(1) not found on PATH (Debian: util-linux)") }
        guard searchPath("redis-server") != nil else {
            throw BenchError("redis-server not found on PATH (make deps installs redis-server)")
        }
        guard let versionLine = Subprocess.capture(["redis-server", "--version"]) else {
            throw BenchError("redis-server --version failed")
        }
        let version = versionLine.split(separator: " ").first { $0.hasPrefix("v=") }.map { String($0.dropFirst(2)) } ?? versionLine

        var servers: [RedisInstance] = []
        for _ in 1...instanceCounts.max()! {
            servers.append(try RedisInstance.start(in: workspace))
        }
        let date = Subprocess.capture(["date", "-u", "+%Y-%m-%d %H:%M:%S UTC"]) ?? "unknown date"
        let machine = Subprocess.capture(["uname", "-m"]) ?? "unknown"
        let processors = Subprocess.capture(["nproc"]) ?? "?"
        let flockVersion = Subprocess.capture([flock, "--version"]).map { $0.split(separator: " ").last.map(String.init) ?? $0 } ?? "?"
        let header = "redlock-bench  \(date)  uname -m: \(machine)  nproc: \(processors)  redis-server \(version)  flock \(flockVersion) (\(flock))  redlock: \(redlock)"
        return Context(redlock: redlock, flock: flock, workspace: workspace, servers: servers, header: header)
    }

    /// `-r URL` for each of the first `n` servers: how `redlock` is told its instances.
    func redisOptions(_ n: Int) -> [String] {
        servers.prefix(n).flatMap { ["-r", $0.url] }
    }

    func endpoints(_ n: Int) -> [Endpoint] {
        servers.prefix(n).map { try! Endpoint.parse($0.url) }
    }

    func stopServers() {
        servers.forEach { $0.stop(workspace) }
    }

    /// This bench binary (the peak-RSS probe runs it again).
    static let ownPath: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// `name` in the directory this bench binary is in.
    private static func siblingExecutable(_ name: String) -> String {
        let directory = ownPath.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return directory + "/" + name
    }

    /// The first executable `name` on PATH.
    private static func searchPath(_ name: String) -> String? {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
