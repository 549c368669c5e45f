import Testing
@testable import RedlockCore

/// The mode kinds' pure parts: reply decoding, the mode conflict as a verdict, key names.
@Suite struct LockModeLogicTests {
    @Test func aModeConflictIsAPermanentFailureThatEndsTheWait() {
        let verdict = AnyHolder.acquireVerdict(.array([.integer(-1), .bulk(Array("limit 2".utf8))]))
        guard case let .failed(error, permanent) = verdict else {
            Issue.record("\(verdict)")
            return
        }
        #expect(permanent)
        #expect(ModeConflict.modeInUse(error) == "limit 2")
        let ballot = Ballot([.granted(fence: 1), verdict, .refused(holders: [], retryAfter: nil)])
        #expect(ballot.modeConflict == "limit 2")
        var policy = WaitPolicy(deadline: nil)
        #expect(policy.next(after: .busy, ballot: ballot, quorum: Quorum(instances: 3), now: .now()) == .giveUp, "even with no deadline")
    }

    @Test func aWriterRefusedBySharedHoldersComesBackSoonToKeepItsMark() {
        let reader = Array("redlock1 tok host=a".utf8)
        let verdict = AnyHolder.acquireVerdict(.array([.integer(0), .integer(25_000), .bulk(reader), .integer(1)]))
        #expect(verdict == .refused(holders: [Holding(value: reader, remaining: .milliseconds(25_000), role: .shared)], retryAfter: Exclusive.writerRetry))
        #expect(Exclusive.writerRetry < Exclusive.writerMarkTTL)
        // A plain refusal waits for the holder's expiry, as before.
        let plain = AnyHolder.acquireVerdict(.array([.integer(0), .integer(25_000), .bulk(reader)]))
        #expect(plain == .refused(holders: [Holding(value: reader, remaining: .milliseconds(25_000))], retryAfter: .milliseconds(25_000)))
    }

    @Test func helperKeysShareTheLocksHashTagAndMapBackToIt() {
        #expect(LockKeys.sharedKey(for: Array("deploy".utf8)) == Array("{deploy}:shared".utf8))
        #expect(LockKeys.slotKey(for: Array("{jobs}.nightly".utf8), name: Array("2".utf8)) == Array("{jobs}.nightly:slot:2".utf8))
        #expect(LockKeys.lockKey(ofModeKey: Array("{deploy}:shared".utf8)) == Array("deploy".utf8))
        #expect(LockKeys.lockKey(ofModeKey: Array("{jobs}.nightly:mode".utf8)) == Array("{jobs}.nightly".utf8))
        #expect(LockKeys.lockKey(ofModeKey: Array("deploy".utf8)) == nil)
        #expect(LockKeys.isModeHelperKey(Array("{deploy}:slot:1".utf8)) && LockKeys.isModeHelperKey(Array("{deploy}:writer".utf8)))
        #expect(!LockKeys.isModeHelperKey(Array("deploy".utf8)))
    }

    @Test func modesNameThemselvesAsTheModeKeyStoresThem() {
        #expect(LockMode.slots([[49], [50], [51]], named: false).description == "limit 3")
        #expect(LockMode.slots([Array("db-a".utf8), Array("db-b".utf8)], named: true).description == "slots db-a,db-b")
    }
}
