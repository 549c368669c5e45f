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
        #expect(RedisError(errorReply: "ERR value is not an integer or out of range") == .server("ERR value is not an integer or out of range"))
        // A command renamed away or disabled: no later attempt will find it.
        let unknown = RedisError(errorReply: "ERR unknown command 'EVALSHA', with args beginning with: 'cf50' '2' 'k'")
        #expect(unknown == .misconfigured("cannot run a command redlock needs: ERR unknown command 'EVALSHA'"))
        #expect(unknown.isPermanent)
        // Older servers echo without the comma; the echoed arguments (our token) never stay.
        #expect(RedisError.withoutEchoedArguments("ERR unknown command `EVALSHA` with args beginning with: `x`") == "ERR unknown command `EVALSHA`")
        #expect(RedisError.withoutEchoedArguments("ERR wrong number of arguments") == "ERR wrong number of arguments")
        #expect(RedisError.withoutEchoedArguments(" with args beginning with: 'a'") == "")
        #expect(RedisError.withoutEchoedArguments("") == "")
        #expect(RedisError.misconfigured("is a replica of 127.0.0.1:6379; a replica never votes").isPermanent)
        #expect(!RedisError.server("ERR value is not an integer or out of range").isPermanent)
        #expect(!RedisError.timedOut("waiting for a reply").isPermanent)
    }

    @Test func sha1OfKnownVectors() {
        #expect(SHA1.hexDigest([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA1.hexDigest(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hexDigest(Array(String(repeating: "a", count: 1000).utf8)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func aReplyOfMoreThan65536ValuesIsAProtocolError() throws {
        let tooMany = RedisError.protocolViolation("a reply of more than 65536 values (redlock asks for none that large)")
        // The header alone is refused: hiredis would allocate its pointers at once.
        #expect(throws: tooMany) { _ = try feedInReads(Array("*1000000000\r\n".utf8), to: ReplyReader()) }
        let many = Array("*70000\r\n".utf8) + Array(String(repeating: ":1\r\n", count: 70000).utf8)
        #expect(throws: tooMany) { _ = try feedInReads(many, to: ReplyReader()) }
        // Nested arrays count every value; the budget is per reply.
        let page = Array("*2\r\n$1\r\n0\r\n*30000\r\n".utf8) + Array(String(repeating: ":1\r\n", count: 30000).utf8)
        let replies = try feedInReads(page + page + page, to: ReplyReader())
        #expect(replies.count == 3)
        #expect(replies[2].elements?[1].elements?.count == 30000)
    }

    /// Fed in 16 KiB reads, as a connection does.
    private func feedInReads(_ bytes: [UInt8], to reader: ReplyReader) throws -> [Reply] {
        var replies: [Reply] = []
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 16 * 1024)
            try reader.feed(Array(bytes[offset..<end]))
            while let reply = try reader.next() { replies.append(reply) }
            offset = end
        }
        return replies
    }

    @Test func repliesUpToAMebibyteAreRead() throws {
        let payload = [UInt8](repeating: 0x61, count: ReplyReader.maximumReplySize - 64)
        let one = Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8)
        // Many replies in a row, larger than the cap together, are fine: the cap is per reply.
        let replies = try feedInReads(one + one + one, to: ReplyReader())
        #expect(replies == Array(repeating: .bulk(payload), count: 3))
    }

    @Test func aReplyLargerThanAMebibyteIsAProtocolError() {
        let payload = [UInt8](repeating: 0x61, count: ReplyReader.maximumReplySize + 1)
        #expect(throws: RedisError.protocolViolation("a reply larger than 1 MiB (redlock asks for none that large)")) {
            _ = try feedInReads(Array("$\(payload.count)\r\n".utf8) + payload + Array("\r\n".utf8), to: ReplyReader())
        }
        // An array grows element by element: the cap counts the whole of it.
        let element = Array("$1000\r\n".utf8) + [UInt8](repeating: 0x62, count: 1000) + Array("\r\n".utf8)
        #expect(throws: RedisError.self) {
            _ = try feedInReads(Array("*2000\r\n".utf8) + Array([[UInt8]](repeating: element, count: 2000).joined()), to: ReplyReader())
        }
    }
}
