import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Host names resolve off the main thread, so a DNS server that never answers costs a round
/// its `--connect-timeout`, not the resolver's own timeouts. The dead DNS server is real: a
/// UDP socket on port 53 of a loopback address that reads nothing, named in a resolv.conf
/// bind-mounted over /etc/resolv.conf in a private mount namespace (unshare -m).
@Suite struct HostLookupTests {
    /// Whether this process may make a mount namespace and bind-mount in it (root, or a
    /// container with CAP_SYS_ADMIN).
    static let canMountPrivately: Bool = {
        guard let unshare = executableInPath("unshare"),
              let result = try? RedlockProcess(executable: unshare, ["-m", "sh", "-c", "mount --bind /etc/hostname /etc/hostname"]).wait(timeout: 30)
        else { return false }
        return result.status == 0
    }()

    /// A UDP socket bound to `address`:53 that never reads: every query to it goes unanswered.
    final class SilentDNSServer {
        let address: String
        private let fd: Int32

        init() throws {
            // A loopback address of its own, so that parallel runs do not collide on port 53.
            address = "127.53.\(Int.random(in: 1...254)).\(Int.random(in: 1...254))"
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(53).bigEndian
            inet_pton(AF_INET, address, &socketAddress.sin_addr)
            let bound = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, bound == 0 else { throw POSIXError(.EADDRINUSE) }
        }

        deinit { close(fd) }
    }

    @Test(.enabled(if: canMountPrivately))
    func silentDNSServerCostsOnlyTheConnectTimeout() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        let scratch = try TestScratch()
        let dns = try SilentDNSServer()
        // Unanswered, glibc's resolver would spend 3 attempts x 5 s on the name.
        let resolvConf = scratch.file("resolv.conf")
        try "nameserver \(dns.address)\noptions timeout:5 attempts:3\n".write(toFile: resolvConf, atomically: true, encoding: .utf8)
        let urls = ["redis://unanswered.example:\(redis.servers[0].port)", redis.servers[1].url, redis.servers[2].url]
        let script = "mount --bind \"$RESOLV_CONF\" /etc/resolv.conf && exec \"$@\""
        let started = Date()
        let result = try RedlockProcess(
            executable: executableInPath("unshare")!,
            ["-m", "sh", "-c", script, "sh", try RedlockBinary.executableURL().path,
             "run", "--connect-timeout", "300ms", "k", "--", "echo", "ran"],
            environment: ["REDLOCK_URLS": urls.joined(separator: ","), "RESOLV_CONF": resolvConf]
        ).wait(timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        // Two of three instances answer: the lock is taken, the command runs.
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "ran\n")
        // Acquire and release each wait out the lookup's 300 ms, not the resolver's 15 s.
        #expect(elapsed < 5, "took \(elapsed) s: the lookup was not bounded by --connect-timeout")
        #expect(redis.valuesOf(key: "k").dropFirst().allSatisfy { $0 == .null }, "released")
    }

    /// A round that starts while a host's lookup is still at work waits on that lookup
    /// rather than starting another thread: review saw 28, 55, 79, 106 threads at 2, 4, 6,
    /// 8 s of `run --wait` with three host names the DNS server never answers.
    @Test(.enabled(if: canMountPrivately))
    func waitingOnAnUnansweredDNSServerKeepsOneLookupPerHost() throws {
        let scratch = try TestScratch()
        let dns = try SilentDNSServer()
        let resolvConf = scratch.file("resolv.conf")
        try "nameserver \(dns.address)\noptions timeout:5 attempts:3\n".write(toFile: resolvConf, atomically: true, encoding: .utf8)
        let urls = ["redis://unanswered-a.example:6379", "redis://unanswered-b.example:6379", "redis://unanswered-c.example:6379"]
        let script = "mount --bind \"$RESOLV_CONF\" /etc/resolv.conf && exec \"$@\""
        let process = try RedlockProcess(
            executable: executableInPath("unshare")!,
            ["-m", "sh", "-c", script, "sh", try RedlockBinary.executableURL().path,
             "run", "--wait", "10s", "k", "--", "echo", "ran"],
            environment: ["REDLOCK_URLS": urls.joined(separator: ","), "RESOLV_CONF": resolvConf])
        // unshare and sh exec: the pid is redlock's once the bind mount is made.
        var samples: [(seconds: Double, threads: Int)] = []
        let started = Date()
        while process.isRunning && Date().timeIntervalSince(started) < 12 {
            let elapsed = Date().timeIntervalSince(started)
            if let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/task"),
               (try? String(contentsOfFile: "/proc/\(process.pid)/comm", encoding: .utf8)) == "redlock\n" {
                samples.append((elapsed, tasks.count))
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        let result = try process.wait(timeout: 60)
        let peak = samples.map(\.threads).max() ?? 0
        let trace = samples.filter { Int($0.seconds * 4) % 8 == 0 }.map { "\(Int($0.seconds)) s: \($0.threads)" }.joined(separator: ", ")
        #expect(samples.count > 20, "redlock was sampled too rarely: \(result)")
        #expect(peak <= 8, "threads over 10 s of waiting: \(trace)")
        #expect(result.status == 69, "\(result)")
        #expect(result.stdout.isEmpty)
    }
}
