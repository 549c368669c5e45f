import Testing
@testable import RedlockCore

/// What a server sent, as messages quote it: short, readable, and never a lock's token.
@Suite struct ReplyTextTests {
    @Test func anUnexpectedReplyIsQuotedShortAndReadable() {
        #expect(Reply.array([.bulk(Array("12".utf8)), .integer(99_999_999)]).description == "[\"12\", :99999999]")
        #expect(Reply.bulk(Array(String(repeating: "x", count: 100).utf8)).description == "\"" + String(repeating: "x", count: 64) + "...\"")
        #expect(Reply.array(Array(repeating: .null, count: 6)).description == "[(nil), (nil), (nil), (nil), ... (6 in all)]")
        #expect(Reply.status("OK").description == "+OK")
    }

    @Test func aLockTokenInAServersTextIsHidden() {
        let error = RedisError(errorReply: "ERR oops 'redlock1 SECRETTOKENVALUE1234 host=x' and redlock1 OTHERSECRET")
        #expect(!error.description.contains("SECRETTOKENVALUE1234") && !error.description.contains("OTHERSECRET"), "\(error)")
        #expect(error.description.contains("redlock1 ***"))
        #expect(!Reply.bulk(Array("redlock1 SECRETTOKENVALUE1234 host=x".utf8)).description.contains("SECRET"))
        #expect(RedisError.hidingLockTokens("no token here") == "no token here")
    }
}
