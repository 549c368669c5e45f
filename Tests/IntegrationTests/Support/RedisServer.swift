// A real redis-server process owned by one test.
//
// redlock's correctness depends on how real Redis behaves (SET NX PX, Lua scripts, AUTH,
// eviction, restarts that lose data), so the integration tests run against the real
// server rather than a fake. Each test starts its own instances on free loopback ports
// with persistence off and a private working directory, so tests can run in parallel,
// kill/pause/restart servers freely, and never see each other's keys.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a RedisServer could not be started.
enum RedisServerError: Error, CustomStringConvertible {
    /// No `redis-server` executable on PATH (or in /usr/bin, /usr/local/bin).
    case notInstalled
    /// The process exited or did not answer PING in time; carries its log for diagnosis.
    case failedToStart(port: UInt16, reason: String, log: String)

    var description: String {
        switch self {
        case .notInstalled:
            return "redis-server not found (looked on PATH, /usr/bin, /usr/local/bin); install redis-server to run the integration tests"
        case let .failedToStart(port, reason, log):
            return "redis-server on port \(port) failed to start: \(reason)\n--- redis log ---\n\(log)"
        }
    }
}

/// One redis-server child process listening on 127.0.0.1.
///
/// All methods may be called from any thread; state is guarded by a lock.
final class RedisServer: @unchecked Sendable {
    /// The `redis-server` executable, looked up on PATH first.
    static var executableURL: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for dir in candidates where !dir.isEmpty {
            let file = URL(fileURLWithPath: dir).appendingPathComponent("redis-server")
            if FileManager.default.isExecutableFile(atPath: file.path) { return file }
        }
        return nil
    }

    /// Whether `redis-server` is installed.
    static var isAvailable: Bool { executableURL != nil }

    /// Throws `RedisServerError.notInstalled` ("redis-server not found ...") when the server
    /// is missing. Tests call this first: a CI machine without Redis must fail loudly, never
    /// silently skip the integration tests.
    static func requireAvailable() throws {
        guard isAvailable else { throw RedisServerError.notInstalled }
    }

    /// Creates and starts a server (see `start()`).
    static func started(port: UInt16? = nil, extraArgs: [String] = []) throws -> RedisServer {
        let server = try RedisServer(port: port, extraArgs: extraArgs)
        try server.start()
        return server
    }

    /// Extra command-line arguments appended after the defaults, e.g.
    /// `["--requirepass", "s3cret"]` or `["--maxmemory-policy", "volatile-lru"]`.
    let extraArgs: [String]
    /// The `--requirepass` value found in `extraArgs`, used by `client()`.
    let password: String?
    /// The server's private working directory (holds `redis.log`); removed on deinit.
    let directory: URL
    /// The log file redis-server writes (`--logfile`).
    var logURL: URL { directory.appendingPathComponent("redis.log") }

    private let lock = NSLock()
    private let requestedPort: UInt16?
    private var currentPort: UInt16
    private var process: ChildProcess?
    private var paused = false

    /// Configures a server without starting it.
    /// - Parameter port: a fixed port to use; nil picks a free one at each `start()`
    ///   (and retries with another one if it was taken in the meantime).
    init(port: UInt16? = nil, extraArgs: [String] = []) throws {
        try Self.requireAvailable()
        self.requestedPort = port
        self.currentPort = port ?? 0
        self.extraArgs = extraArgs
        if let i = extraArgs.firstIndex(of: "--requirepass"), i + 1 < extraArgs.count {
            password = extraArgs[i + 1]
        } else {
            password = nil
        }
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("redlock-tests-redis-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The port the server listens on (0 before the first `start()`).
    var port: UInt16 { lock.withLock { currentPort } }

    /// `redis://127.0.0.1:<port>`, the form redlock takes in REDLOCK_URLS.
    var url: String { "redis://127.0.0.1:\(port)" }

    /// The URL with credentials, `redis://[user]:password@127.0.0.1:<port>`
    /// (no percent-encoding: keep test passwords URL-safe).
    func url(user: String? = nil, password: String?) -> String {
        guard let password else { return url }
        return "redis://\(user ?? ""):\(password)@127.0.0.1:\(port)"
    }

    /// The process id while running, nil otherwise.
    var pid: Int32? { lock.withLock { process?.pid } }

    /// Whether the process is alive (a paused server is alive).
    var isRunning: Bool { lock.withLock { process?.isRunning ?? false } }

    /// Whether the server is stopped by `pause()`.
    var isPaused: Bool { lock.withLock { paused } }

    /// A new oracle connection to this server, authenticated when the server has a password.
    func client(timeout: TimeInterval = 5) throws -> RESPClient {
        try RESPClient(port: port, host: "127.0.0.1", password: password, timeout: timeout)
    }

    /// The server's log so far (for failure messages).
    func log() -> String {
        (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
    }

    /// Starts the process and waits (up to 10 s) until it answers PING. Does nothing if it
    /// is already running. Without a fixed port, a port lost to another process between
    /// picking and binding is replaced by a new free port (up to 10 attempts).
    func start() throws {
        try lock.withLock {
            if let process, process.isRunning { return }
            try startLocked(fixedPort: requestedPort)
        }
    }

    /// Kills the process with SIGKILL and waits for it to exit, like a crashed server.
    /// Data is lost (persistence is off). Does nothing if not running.
    func kill() {
        lock.withLock { killLocked() }
    }

    /// Stops the process with SIGSTOP: connections stay open but nothing is answered,
    /// like a server stuck in a long GC pause or a partitioned host.
    func pause() {
        lock.withLock {
            guard let process, process.isRunning, !paused else { return }
            process.signal(SIGSTOP)
            paused = true
        }
    }

    /// Continues a paused process with SIGCONT.
    func resume() {
        lock.withLock {
            guard let process, paused else { return }
            process.signal(SIGCONT)
            paused = false
        }
    }

    /// Kills the server and starts a new, empty one on the same port — a Redis restart
    /// without persistence, which is what makes Redlock's "delayed restart" advice matter.
    func restartEmpty() throws {
        try lock.withLock {
            let samePort = currentPort
            killLocked()
            // Persistence is off, but make sure no dump file could be loaded anyway.
            let fm = FileManager.default
            for name in (try? fm.contentsOfDirectory(atPath: directory.path)) ?? [] where name != "redis.log" && name != "stderr.log" {
                try? fm.removeItem(at: directory.appendingPathComponent(name))
            }
            try startLocked(fixedPort: samePort == 0 ? requestedPort : samePort)
        }
    }

    // MARK: - Private (lock held)

    private func killLocked() {
        guard let process else { return }
        if paused { process.signal(SIGCONT) }
        process.signal(SIGKILL)
        process.waitForExit()
        self.process = nil
        paused = false
    }

    private enum Attempt {
        case started(ChildProcess)
        case portInUse
    }

    private func startLocked(fixedPort: UInt16?) throws {
        let maxAttempts = 10
        var lastReason = ""
        for attempt in 1...maxAttempts {
            let port = try fixedPort ?? freeLoopbackPort()
            currentPort = port
            switch try launch(port: port) {
            case .started(let process):
                self.process = process
                paused = false
                return
            case .portInUse:
                lastReason = "port \(port) already in use"
                if fixedPort != nil {
                    // The same port must be reused (restartEmpty): wait for it to be freed.
                    Thread.sleep(forTimeInterval: 0.1 * Double(attempt))
                }
            }
        }
        throw RedisServerError.failedToStart(port: currentPort, reason: lastReason + " after \(maxAttempts) attempts", log: log())
    }

    private func arguments(port: UInt16) -> [String] {
        [
            "--port", String(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", directory.path,
            "--logfile", logURL.path,
        ] + extraArgs
    }

    private func launch(port: UInt16) throws -> Attempt {
        guard let executable = Self.executableURL else { throw RedisServerError.notInstalled }
        // Only look at log lines written by this attempt: the log is appended across restarts.
        let logOffset = (try? FileManager.default.attributesOfItem(atPath: logURL.path)[.size] as? Int) ?? 0
        let stderrURL = directory.appendingPathComponent("stderr.log")

        // Errors in the arguments are reported on stderr, before the log file is opened.
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        let stderrFD = open(stderrURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer {
            close(devNull)
            close(stderrFD)
        }
        guard devNull >= 0, stderrFD >= 0 else { throw SocketError("open") }
        let process = try ChildProcess(executable: executable.path, arguments: arguments(port: port),
                                       environment: ProcessInfo.processInfo.environment,
                                       stdin: devNull, stdout: devNull, stderr: stderrFD,
                                       currentDirectory: directory.path)

        func newLog() -> String {
            guard let data = FileManager.default.contents(atPath: logURL.path), data.count > logOffset else { return "" }
            return String(decoding: data.dropFirst(logOffset), as: UTF8.self)
        }
        func failure(_ reason: String) -> RedisServerError {
            let stderr = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
            return .failedToStart(port: port, reason: reason, log: newLog() + (stderr.isEmpty ? "" : "\n--- stderr ---\n" + stderr))
        }

        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let end = process.terminationStatus {
                if newLog().contains("Address already in use") { return .portInUse }
                throw failure("exited with status \(end.status)")
            }
            // The "ready" line in our own log proves that the PING below reaches this
            // process and not some other server that owns the port.
            if newLog().contains("Ready to accept connections"),
               let client = try? RESPClient(port: port, host: "127.0.0.1", password: nil, timeout: 1),
               let reply = try? client.command("PING"),
               reply == .simple("PONG") || (reply.errorMessage?.hasPrefix("NOAUTH") ?? false) {
                return .started(process)
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.signal(SIGKILL)
        process.waitForExit()
        throw failure("did not answer PING within 10 s")
    }
}
