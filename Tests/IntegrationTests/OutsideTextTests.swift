import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Text that came from outside (another client's lock value, a server's error text) never
/// reaches the terminal raw, and a server's echo of our arguments (the lock value, the
/// token) is not printed at all.
@Suite struct OutsideTextTests {
    /// A title-setting sequence and a bell, the classic terminal injection.
    static let injection = "\u{1B}]2;PWNED\u{07}"

    private func assertNoControlBytes(_ text: String, _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let raw = text.unicodeScalars.filter { ($0.value < 0x20 && $0 != "\n") || (0x7F..<0xA0).contains($0.value) }
        #expect(raw.isEmpty, comment ?? "\(text.debugDescription)", sourceLocation: sourceLocation)
    }

    @Test func aHolderWrittenByAnotherClientIsPrintedEscaped() throws {
        let redis = try RedisFixture(count: 1)
        try redis.servers[0].client().command("SET", "k", "redlock1 tok host=%1B]2;PWNED%07 pid=7 user=u%0D at=0 cmd=x", "PX", "20000")
        let busy = try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment)
        #expect(busy.status == 75, "\(busy)")
        assertNoControlBytes(busy.stderr)
        #expect(busy.stderr.contains("\\x1b]2;PWNED\\x07"), "\(busy)")
        #expect(busy.stderr.split(separator: "\n").count == 1)

        let shown = try redlock(["inspect", "k"], environment: redis.environment)
        assertNoControlBytes(shown.stdout)
        assertNoControlBytes(shown.stderr)
        #expect(shown.stdout.contains("\\x1b]2;PWNED\\x07"), "\(shown)")

        let json = try redlock(["inspect", "--json", "k"], environment: redis.environment)
        assertNoControlBytes(json.stdout)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8))
        #expect("\(document)".contains("PWNED"))
    }

    @Test func aServerErrorTextIsPrintedEscaped() throws {
        let peer = try ScriptedPeer(reply: "-ERR \(Self.injection) \u{9B}31m\r\n")
        let result = try redlock(["-r", "redis://127.0.0.1:\(peer.port)", "run", "-n", "k", "--", "true"], timeout: 20)
        #expect(result.status != 0)
        assertNoControlBytes(result.stderr)
        #expect(result.stderr.contains("PWNED"), "\(result)")
        #expect(result.stderr.hasPrefix("redlock: "))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
    }

    @Test func argumentsEchoedInAServerErrorAreNotPrinted() throws {
        // With its scripting commands renamed away, a server answers "unknown command
        // 'EVALSHA', with args beginning with: '<sha>' 'k' 'redlock1 <token> host=...'".
        let redis = try RedisFixture(count: 1, extraArgs: ["--rename-command", "EVALSHA", "evalsha-hidden", "--rename-command", "EVAL", "eval-hidden"])
        let result = try redlock(["run", "-n", "k", "--", "true"], environment: redis.environment, timeout: 20)
        #expect(result.status != 0, "\(result)")
        #expect(result.stderr.contains("unknown command"), "\(result)")
        #expect(!result.stderr.contains("redlock1"), "\(result)")
        #expect(!result.stderr.contains("args beginning"), "\(result)")
    }
}

/// A TCP peer that answers every command it reads with the same bytes: a "server" whose
/// error text a test chooses. (Commands are counted by the RESP array headers that start
/// them, which is all a pipelined handshake and request need here.)
final class ScriptedPeer: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let reply: [UInt8]
    private let thread: Thread

    init(reply: String) throws {
        listener = try Sockets.makeTCPSocket()
        var one: Int32 = 1
        _ = setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        try Sockets.bind(listener, host: "127.0.0.1", port: 0)
        guard listen(listener, 16) == 0 else { throw SocketError("listen") }
        port = try Sockets.localPort(of: listener)
        let reply = Array(reply.utf8)
        self.reply = reply
        let listener = listener
        thread = Thread {
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                Thread.detachNewThread {
                    Sockets.setTimeouts(client, seconds: 10)
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    var previous: UInt8 = UInt8(ascii: "\n")
                    while true {
                        let count = recv(client, &buffer, buffer.count, 0)
                        guard count > 0 else { break }
                        // One reply per command: a multibulk request starts "*" on a line of
                        // its own; a chunk that starts a line without one is an inline command.
                        // A long request (a script loaded whole) spans chunks.
                        var commands = previous == UInt8(ascii: "\n") && buffer[0] != UInt8(ascii: "*") ? 1 : 0
                        for byte in buffer[..<count] {
                            if byte == UInt8(ascii: "*") && previous == UInt8(ascii: "\n") { commands += 1 }
                            previous = byte
                        }
                        guard (try? Sockets.sendAll(client, Array([[UInt8]](repeating: reply, count: commands).joined()))) != nil else { break }
                    }
                    close(client)
                }
            }
        }
        thread.start()
    }

    deinit {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}
