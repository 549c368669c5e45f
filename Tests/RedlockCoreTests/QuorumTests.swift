import Testing
@testable import RedlockCore

/// Quorum's decisions over scripted verdicts: no server, no clock but the one passed in.
@Suite struct QuorumTests {
    private let three = Quorum(instances: 3)
    private let five = Quorum(instances: 5)
    private let granted = Verdict.granted(fence: 7)
    private let refused = Verdict.refused(holders: [Holding(value: Array("other".utf8), remaining: .seconds(3))], retryAfter: .seconds(3))
    private let down = Verdict.failed(.connectionFailed("refused"))
    private let denied = Verdict.failed(.authenticationFailed("WRONGPASS"))

    @Test func acquireIsDecidedAsSoonAsAQuorumGrants() {
        #expect(three.acquisition(Ballot([granted, granted, nil])) == .acquired)
        #expect(three.acquisition(Ballot([granted, nil, nil])) == .undecided)
        #expect(three.acquisition(Ballot([nil, nil, nil])) == .undecided)
        #expect(five.acquisition(Ballot([granted, nil, granted, nil, granted])) == .acquired)
    }

    @Test func acquireEndsWhenItCannotSucceedAndTheKindOfFailureIsKnown() {
        #expect(three.acquisition(Ballot([refused, refused, nil])) == .busy)
        #expect(three.acquisition(Ballot([down, down, nil])) == .unreachable)
        // A split vote: one grant, one refusal, the third decides.
        #expect(three.acquisition(Ballot([granted, refused, nil])) == .undecided)
        #expect(three.acquisition(Ballot([granted, refused, refused])) == .busy)
        // Cannot succeed, but busy or unreachable depends on the third.
        #expect(three.acquisition(Ballot([refused, down, nil])) == .undecided)
        #expect(three.acquisition(Ballot([refused, down, refused])) == .busy)
        #expect(three.acquisition(Ballot([refused, down, down])) == .unreachable)
    }

    @Test func youngInstancesDoNotCountAndMakeTheLockUnavailableNotBusy() {
        #expect(three.acquisition(Ballot([granted, granted, granted], uncounted: [0, 1, 2])) == .unreachable)
        #expect(three.acquisition(Ballot([granted, granted, granted], uncounted: [0])) == .acquired)
        #expect(three.acquisition(Ballot([granted, granted, refused], uncounted: [0])) == .busy)
        #expect(three.acquisition(Ballot([granted, granted, nil], uncounted: [0, 1])) == .unreachable)
    }

    @Test func waitingCannotHelpWhenMorePermanentFailuresThanMayFail() {
        #expect(!three.waitingCannotHelp(Ballot([denied, granted, refused])))
        #expect(three.waitingCannotHelp(Ballot([denied, denied, granted])))
        #expect(!three.waitingCannotHelp(Ballot([down, down, down])), "a server that is down may come back")
        #expect(Verdict.failed(.tls("handshake failed")) == .failed(.tls("handshake failed"), permanent: true))
    }

    @Test func extendIsRenewedLostOrRetried() {
        let done = Verdict.granted(fence: nil), notOurs = Verdict.refused(holders: [], retryAfter: nil)
        #expect(three.renewal(Ballot([done, done, nil])) == .renewed)
        #expect(three.renewal(Ballot([notOurs, notOurs, nil])) == .lost)
        #expect(three.renewal(Ballot([done, notOurs, nil])) == .undecided)
        #expect(three.renewal(Ballot([down, down, nil])) == .retry)
        #expect(three.renewal(Ballot([notOurs, down, nil])) == .undecided)
        #expect(three.renewal(Ballot([notOurs, down, down])) == .retry)
        #expect(three.renewal(Ballot([notOurs, down, notOurs])) == .lost)
    }

    @Test func releaseNamesTheInstancesItMissed() {
        let done = Verdict.granted(fence: nil), notOurs = Verdict.refused(holders: [], retryAfter: nil)
        #expect(three.release(Ballot([done, done, nil])) == .released(missed: []))
        #expect(three.release(Ballot([done, down, done])) == .released(missed: [1]))
        #expect(three.release(Ballot([done, down, down])) == .unreachable(missed: [1, 2]))
        #expect(three.release(Ballot([done, notOurs, notOurs])) == .notHeld(missed: []))
        #expect(three.release(Ballot([done, notOurs, nil])) == .undecided)
        #expect(five.release(Ballot([done, done, down, notOurs, down])) == .notHeld(missed: [2, 4]))
    }

    @Test func readsNeedAQuorumOfAnswers() {
        #expect(!three.answered(1))
        #expect(three.answered(2))
        #expect(three.mayHaveFreed(stillHeld: 1))
        #expect(!three.mayHaveFreed(stillHeld: 2))
    }

    @Test func validityUsesTheInstantsGiven() {
        let start = Instant(nanoseconds: 5_000_000_000)
        #expect(Quorum.validity(ttl: .seconds(1), start: start, end: start + .milliseconds(100)) == .milliseconds(888))
        #expect(Quorum.validity(ttl: .milliseconds(10), start: start, end: start + .milliseconds(10)) < .zero)
    }

    @Test func theLeadingHolderIsStable() {
        let a = Array("a".utf8), b = Array("b".utf8)
        #expect(Quorum.leadingHolder([(2, a), (1, b)])?.value == b, "a tie goes to the lowest instance")
        #expect(Quorum.leadingHolder([(1, b), (2, a)])?.value == b)
        #expect(Quorum.leadingHolder([(0, b), (1, a), (2, a)])?.instances == [1, 2])
        #expect(Quorum.leadingHolder([]) == nil)
        // One redlock token is one holder, whatever fence each instance appended.
        let first = Array("redlock1 tok host=h fence=1".utf8), second = Array("redlock1 tok host=h fence=2".utf8)
        let leading = Quorum.leadingHolder([(0, a), (1, first), (2, second)], identity: KeyState.identity)
        #expect(leading?.value == first && leading?.instances == [1, 2])
    }

    @Test func keyStateIsUnknownWithoutAQuorumOfAnswers() {
        let held = KeyState.InstanceState.held([Holding(value: Array("x".utf8), remaining: nil)])
        let failed = KeyState.InstanceState.failed(.timedOut("waiting for a reply"))
        #expect(KeyState(key: [], instances: [failed, failed, failed], quorum: three).verdict == .unknown)
        #expect(KeyState(key: [], instances: [.free, failed, failed], quorum: three).verdict == .unknown)
        #expect(KeyState(key: [], instances: [.free, .free, failed], quorum: three).verdict == .free)
        #expect(KeyState(key: [], instances: [held, held, failed], quorum: three).verdict == .held)
        #expect(KeyState(key: [], instances: [held, .free, .free], quorum: three).verdict == .split)
    }

    @Test func waitPolicyGivesUpAfterTheUnreachableTimeout() {
        let start = Instant(nanoseconds: 1_000_000_000)
        var policy = WaitPolicy(deadline: nil, unreachableTimeout: .seconds(2))
        let unreachable = Ballot([down, down, granted])
        #expect(policy.next(after: .unreachable, ballot: unreachable, quorum: three, now: start) == .tryAgain)
        #expect(policy.latestRetry == start + .seconds(2))
        #expect(policy.next(after: .unreachable, ballot: unreachable, quorum: three, now: start + .seconds(1)) == .tryAgain)
        // A busy answer in between starts the count again.
        #expect(policy.next(after: .busy, ballot: Ballot([refused, refused, down]), quorum: three, now: start + .milliseconds(1500)) == .tryAgain)
        #expect(policy.latestRetry == nil)
        #expect(policy.next(after: .unreachable, ballot: unreachable, quorum: three, now: start + .seconds(3)) == .tryAgain)
        #expect(policy.next(after: .unreachable, ballot: unreachable, quorum: three, now: start + .seconds(5)) == .giveUp)
    }

    @Test func waitPolicyGivesUpAtTheDeadlineAndOnPermanentFailures() {
        let start = Instant(nanoseconds: 1_000_000_000)
        var policy = WaitPolicy(deadline: start + .seconds(1))
        let busy = Ballot([refused, refused, refused])
        #expect(policy.next(after: .busy, ballot: busy, quorum: three, now: start) == .tryAgain)
        #expect(policy.next(after: .busy, ballot: busy, quorum: three, now: start + .seconds(1)) == .giveUp)
        var forever = WaitPolicy(deadline: nil)
        #expect(forever.next(after: .unreachable, ballot: Ballot([denied, denied, refused]), quorum: three, now: start) == .giveUp)
        #expect(WaitPolicy(deadline: start + .seconds(1), unreachableTimeout: .seconds(60)).latestRetry == start + .seconds(1))
    }

    @Test func exclusiveRepliesDecodeOnce() {
        let kind = Exclusive()
        #expect(kind.acquireVerdict(.array([.integer(1), .integer(42)])) == .granted(fence: 42))
        #expect(kind.acquireVerdict(.array([.integer(0), .integer(1500), .bulk(Array("v".utf8))]))
            == .refused(holders: [Holding(value: Array("v".utf8), remaining: .milliseconds(1500))], retryAfter: .milliseconds(1500)))
        #expect(kind.acquireVerdict(.array([.integer(0), .integer(-1), .bulk(Array("v".utf8))]))
            == .refused(holders: [Holding(value: Array("v".utf8), remaining: nil)], retryAfter: nil))
        if case .failed(.unexpectedReply, permanent: false) = kind.acquireVerdict(.status("OK")) {} else { Issue.record("a reply of the wrong shape fails") }
        #expect(kind.stepVerdict(.integer(1)) == .granted(fence: nil))
        #expect(kind.stepVerdict(.integer(0)) == .refused(holders: [], retryAfter: nil))
        if case .free = kind.inspectState(.array([.null, .integer(-2)])) {} else { Issue.record("a missing key is free") }
        if case let .held(holdings) = kind.inspectState(.array([.bulk(Array("v".utf8)), .integer(900)])) {
            #expect(holdings == [Holding(value: Array("v".utf8), remaining: .milliseconds(900))])
        } else { Issue.record("a value is held") }
    }

    @Test func aLocksKeysShareAHashTag() {
        let kind = Exclusive()
        for key in ["deploy", "{jobs}.nightly"] {
            let call = kind.acquire(key: Array(key.utf8), value: LockValue.fresh(for: HolderInfo(host: "h", pid: 1, user: "u", command: "c", acquiredAtMilliseconds: 0)), ttl: .seconds(1))
            let slots = Set(call.keys.map(ClusterSlot.of))
            #expect(slots.count == 1, "\(key): \(call.keys.map { String(decoding: $0, as: UTF8.self) })")
        }
    }
}
