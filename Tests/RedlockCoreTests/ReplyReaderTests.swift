import Testing
import TestSupport
@testable import RedlockCore

@Suite struct ReplyReaderTests {
    private func read(_ text: String) throws -> [Reply] {
        let reader = ReplyReader()
        try reader.feed(Array(text.utf8))
        var replies: [Reply] = []
        while let reply = try reader.next() { replies.append(reply) }
        return replies
    }

    @Test func everyReplyType() throws {
        let replies = try read("+OK\r\n-ERR bad\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n$1\r\nx\r\n*-1\r\n")
        #expect(replies == [.status("OK"), .error("ERR bad"), .integer(42), .bulk(Array("abc".utf8)), .null,
                            .array([.integer(1), .bulk([UInt8(ascii: "x")])]), .null])
    }

    @Test func binarySafeBulk() throws {
        let reader = ReplyReader()
        let payload: [UInt8] = [0, 13, 10, 255, 32]
        try reader.feed(Array("$5\r\n".utf8) + payload + Array("\r\n".utf8))
        #expect(try reader.next() == .bulk(payload))
    }

    @Test func repliesSplitAcrossFeeds() throws {
        let reader = ReplyReader()
        let bytes = Array("*2\r\n$5\r\nhello\r\n:-7\r\n".utf8)
        for byte in bytes.dropLast() {
            try reader.feed([byte])
            #expect(try reader.next() == nil)
        }
        try reader.feed([bytes.last!])
        #expect(try reader.next() == .array([.bulk(Array("hello".utf8)), .integer(-7)]))
    }

    @Test func garbageIsAProtocolError() {
        let reader = ReplyReader()
        #expect(throws: RedisError.self) {
            try reader.feed(Array("hello garbage\r\n".utf8))
            _ = try reader.next()
        }
    }

    /// Random and truncated bytes: only errors or replies, never a crash (seeded, repeatable).
    @Test func randomBytesNeverCrash() throws {
        var generator = SplitMix64(seed: 0x5EED_2026)
        let seeds = ["+OK\r\n", ":12\r\n", "$3\r\nabc\r\n", "*2\r\n:1\r\n:2\r\n", "-ERR x\r\n", "$-1\r\n"]
        for _ in 0..<5000 {
            let reader = ReplyReader()
            var bytes: [UInt8] = []
            for _ in 0..<Int(generator.next() % 4) { bytes += Array(seeds[Int(generator.next() % UInt64(seeds.count))].utf8) }
            for _ in 0..<Int(generator.next() % 6) {
                let position = bytes.isEmpty ? 0 : Int(generator.next() % UInt64(bytes.count + 1))
                bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)
            }
            if !bytes.isEmpty && generator.next() % 2 == 0 { bytes.removeLast(Int(generator.next() % UInt64(bytes.count))) }
            do {
                try reader.feed(bytes)
                while try reader.next() != nil {}
            } catch {
                guard case .protocolViolation = error else { Issue.record("unexpected error \(error)"); return }
            }
        }
    }

    @Test func commandEncodingIsRESP() {
        let command = Command(arguments: [Array("SET".utf8), Array("a key".utf8), []])
        #expect(String(decoding: command.encoded, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$5\r\na key\r\n$0\r\n\r\n")
    }

    @Test func errorRepliesAreClassified() {
        #expect(RedisError(errorReply: "WRONGPASS invalid username-password pair") == .authenticationFailed("WRONGPASS invalid username-password pair"))
        #expect(RedisError(errorReply: "NOAUTH Authentication required.").isAccessDenied)
        #expect(RedisError(errorReply: "NOPERM this user has no permissions").isAccessDenied)
        #expect(RedisError(errorReply: "READONLY You can't write against a read only replica.") == .readOnly("READONLY You can't write against a read only replica."))
        #expect(RedisError(errorReply: "OOM command not allowed") == .outOfMemory("OOM command not allowed"))
        #expect(RedisError(errorReply: "NOSCRIPT No matching script") == .noScript("NOSCRIPT No matching script"))
        #expect(RedisError(errorReply: "WRONGTYPE Operation against a key") == .wrongType("WRONGTYPE Operation against a key"))
        #expect(RedisError(errorReply: "ERR unknown command") == .server("ERR unknown command"))
    }

    @Test func sha1OfKnownVectors() {
        #expect(SHA1.hexDigest([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest(Array(String(repeating: "a", count: 1000).utf8)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }
}
