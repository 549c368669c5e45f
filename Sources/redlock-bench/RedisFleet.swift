import Glibc
import RedlockCore

/// One throwaway redis-server on a free loopback port, persistence off, in its own
/// directory under the workspace.
///
/// The bench starts its own servers rather than using whatever runs on 6379 so that the
/// figures do not depend on someone else's server, its load or its configuration, and so
/// that INFO commandstats counts only what the bench and the tools under test sent.
final class RedisInstance {
    let port: UInt16
    private let process: ChildProcess

    var url: String { "redis://127.0.0.1:\(port)" }
    var pid: pid_t { process.pid }

    private init(port: UInt16, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    /// Starts a server and waits (up to 10 s) until it answers PING. A port taken by another
    /// process between our probe and the server's bind is replaced by another free one.
    static func start(in workspace: Workspace) throws(BenchError) -> RedisInstance {
        var lastProblem = ""
        for _ in 1...8 {
            let port = try freeLoopbackPort()
            let directory = workspace.file("redis-\(port)")
            mkdir(directory, 0o700)
            let log = directory + "/redis.log"
            let arguments = [
                "redis-server", "--port", String(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--dir", directory, "--logfile", log,
            ]
            var empty = sigset_t()
            sigemptyset(&empty)
            let process: ChildProcess
            do {
                // ChildProcess gives the server a parent-death SIGKILL: it cannot outlive the bench.
                process = try ChildProcess(arguments: arguments, environment: Subprocess.environment, foregroundTerminal: nil, childMask: empty)
            } catch {
                throw BenchError("cannot start redis-server: \(error.errno) (is redis-server installed? make deps installs it)")
            }
            workspace.adopt(server: process.pid)
            let instance = RedisInstance(port: port, process: process)
            let deadline = Instant.now() + .seconds(10)
            while Instant.now() < deadline {
                let text = readFile(log)
                if process.poll() != nil {
                    workspace.release(server: process.pid)
                    if text.contains("Address already in use") {
                        lastProblem = "port \(port) was taken"
                        break
                    }
                    throw BenchError("redis-server on port \(port) exited: \(text.split(separator: "\n").suffix(3).joined(separator: " | "))")
                }
                // The ready line in our own log proves the PING reaches our process, not
                // another server that happens to own the port.
                if text.contains("Ready to accept connections"), instance.answersPing() {
                    return instance
                }
                usleep(20_000)
            }
            if process.status == nil {
                instance.stop(workspace)
                throw BenchError("redis-server on port \(port) did not answer PING within 10 s")
            }
        }
        throw BenchError("cannot start redis-server: \(lastProblem)")
    }

    private func answersPing() -> Bool {
        guard let endpoint = try? Endpoint.parse(url) else { return false }
        let set = InstanceSet(endpoints: [endpoint], connectTimeout: .seconds(1), operationTimeout: .seconds(1))
        defer { set.closeAll() }
        if case .success(.status("PONG")) = set.broadcast(Command("PING"))[0] { return true }
        return false
    }

    /// SIGTERM, then SIGKILL after 3 s; waits for the process either way.
    func stop(_ workspace: Workspace) {
        if process.poll() == nil {
            kill(process.pid, SIGTERM)
            let deadline = Instant.now() + .seconds(3)
            while process.poll() == nil && Instant.now() < deadline { usleep(10_000) }
            if process.poll() == nil {
                kill(process.pid, SIGKILL)
                while process.poll() == nil { usleep(10_000) }
            }
        }
        workspace.release(server: process.pid)
    }
}

/// A loopback TCP port that was free a moment ago (bound to port 0, then closed).
func freeLoopbackPort() throws(BenchError) -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var address = sockaddr_in.loopback(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
        }
    }
    guard ok else { throw BenchError("cannot find a free port: \(String(cString: strerror(errno)))") }
    return UInt16(bigEndian: address.sin_port)
}

extension sockaddr_in {
    /// 127.0.0.1:`port`.
    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}

/// The whole of a small text file, or "" when it cannot be read.
func readFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        bytes += buffer[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
