import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A hostile or broken server must not be able to make redlock take all the memory it
/// likes: a reply larger than 1 MiB is a protocol error for that instance.
@Suite struct OversizedReplyTests {
    /// Answers every connection with the header of a 1 GiB bulk string, then streams bytes
    /// as fast as the client reads them (until it hangs up or 1 GiB has gone).
    final class HugeReplyServer: @unchecked Sendable {
        let port: UInt16
        private let listener: Int32

        init() throws {
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
                    let serve = Thread { Self.serve(client) }
                    serve.start()
                }
            }
            thread.start()
        }

        deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

        private static func serve(_ client: Int32) {
            defer { close(client) }
            var request = [UInt8](repeating: 0, count: 4096)
            guard read(client, &request, request.count) > 0 else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
            guard (try? writeIgnoringSIGPIPE(client, Array("$1073741824\r\n".utf8))) != nil else { return }
            var sent = 0
            while sent < 1 << 30 {
                guard (try? writeIgnoringSIGPIPE(client, chunk)) != nil else { return }
                sent += chunk.count
            }
        }
    }

    /// The peak RSS (VmHWM) of a running process in KiB; nil once it has exited.
    static func peakResidentKiB(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    @Test func aReplyOfAGigabyteIsAProtocolErrorNotAGigabyteOfMemory() throws {
        let server = try HugeReplyServer()
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
        #expect(result.stderr.contains("larger than 1 MiB"), "\(result)")
        #expect(peak > 0, "redlock was never sampled")
        #expect(peak < 16 * 1024, "peak RSS \(peak) KiB")
    }
}
