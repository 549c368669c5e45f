import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A hostile or broken server must not be able to make redlock take all the memory it
/// likes: a reply larger than 1 MiB is a protocol error for that instance.
@Suite struct OversizedReplyTests {
    /// Answers every connection with `header`, then streams `chunk` as fast as the client
    /// reads it until `total` bytes have gone (or the client hangs up), then waits for the
    /// client to hang up.
    final class HugeReplyServer: @unchecked Sendable {
        let port: UInt16
        private let listener: Int32

        /// The header of a 1 GiB bulk string, and a stream of bytes.
        convenience init() throws {
            try self.init(header: "$1073741824\r\n", chunk: [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024), total: 1 << 30)
        }

        init(header: String, chunk: [UInt8], total: Int) throws {
            listener = try Sockets.makeTCPSocket()
            var one: Int32 = 1
            setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            try Sockets.bind(listener, host: "127.0.0.1", port: 0)
            guard listen(listener, 16) == 0 else { throw SocketError("listen") }
            port = try Sockets.localPort(of: listener)
            let listener = self.listener
            let thread = Thread {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { if errno == EINTR { continue } else { return } }
                    let serve = Thread { Self.serve(client, header: header, chunk: chunk, total: total) }
                    serve.start()
                }
            }
            thread.start()
        }

        deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

        private static func serve(_ client: Int32, header: String, chunk: [UInt8], total: Int) {
            defer { close(client) }
            var request = [UInt8](repeating: 0, count: 4096)
            guard read(client, &request, request.count) > 0 else { return }
            guard (try? writeIgnoringSIGPIPE(client, Array(header.utf8))) != nil else { return }
            var sent = 0
            while sent < total {
                guard (try? writeIgnoringSIGPIPE(client, chunk)) != nil else { return }
                sent += chunk.count
            }
            while read(client, &request, request.count) > 0 {}
        }
    }

    /// The peak RSS (VmHWM) of a running process in KiB; nil once it has exited.
    static func peakResidentKiB(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    @Test func aReplyOfAGigabyteIsAProtocolErrorNotAGigabyteOfMemory() throws {
        try expectProtocolErrorInLittleMemory(from: try HugeReplyServer(), saying: "larger than 1 MiB")
    }

    /// Under 1 MiB of bytes, 262,144 integers would make as many reply values (29 MiB).
    @Test func anArrayOfAQuarterMillionValuesIsAProtocolErrorToo() throws {
        let count = 1 << 18
        let server = try HugeReplyServer(header: "*\(count)\r\n", chunk: Array(String(repeating: ":1\r\n", count: 1 << 14).utf8), total: 4 * count)
        try expectProtocolErrorInLittleMemory(from: server, saying: "more than 65536 values")
    }

    /// A pattern's listing collects at most 10,000 keys: a server answering every SCAN with
    /// new names and a cursor that never ends made inspect grow to gigabytes (a review's
    /// finding). A listing cut there could leave out held locks, so it is an error (69), not
    /// a table. Listing every lock keeps only locks, so an application's keys do not count.
    @Test func aListingOfMoreKeysThanTheLimitStopsAndSaysSo() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 1)
        _ = try redis.servers[0].client().command("EVAL", "for i = 1, 10001 do redis.call('SET', 'lk:' .. i, 'x') end", "0")
        let pattern = try redlock(["inspect", "lk*"], environment: redis.environment)
        #expect(pattern.status == 69, "\(pattern)")
        #expect(pattern.stdout.isEmpty)
        #expect(pattern.stderr.hasPrefix("redlock: more than 10000 keys match 'lk*'"), "\(pattern)")
        #expect(try redlock(["acquire", "--ttl", "60s", "deploy"], environment: redis.environment).status == 0)
        let every = try redlock(["inspect"], environment: redis.environment)
        #expect(every.status == 0 && every.stdout.contains("deploy"), "the application's keys are no locks: \(every)")
        _ = try redis.servers[0].client().command("DEL", "lk:1")
        #expect(try redlock(["inspect", "lk*"], environment: redis.environment).status == 0)
    }

    private func expectProtocolErrorInLittleMemory(from server: HugeReplyServer, saying reason: String) throws {
        // Waiting keeps redlock alive, round after round, for its peak to be read.
        let process = try RedlockProcess(["run", "--op-timeout", "3s", "-w", "4s", "k", "--", "echo", "ran"],
                                         environment: ["REDLOCK_URLS": "redis://127.0.0.1:\(server.port)"])
        var peak = 0
        while process.isRunning {
            if let kib = Self.peakResidentKiB(of: process.pid) { peak = max(peak, kib) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let result = try process.wait(timeout: 60)
        #expect(result.status == 69, "\(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("127.0.0.1:\(server.port): protocol error"), "\(result)")
        #expect(result.stderr.contains(reason), "\(result)")
        #expect(peak > 0, "redlock was never sampled")
        #expect(peak < 16 * 1024, "peak RSS \(peak) KiB")
    }
}
