import Testing
@testable import RedlockCore

/// The runner's policy, as data: renewal period, kill-after default, and what it refuses.
@Suite struct RunPlanTests {
    private func plan(ttl: Duration, killAfter: Duration? = nil) throws(Runner.Plan.Refusal) -> Runner.Plan {
        try Runner.Plan(arguments: [Array("true".utf8)], environment: [], ttl: ttl, killAfter: killAfter)
    }

    @Test func renewsEveryThirdOfTheTTLWithTheSmallerOfFiveSecondsAndAThirdAsGrace() throws {
        let short = try plan(ttl: .seconds(6))
        #expect(short.renewEvery == .seconds(2))
        #expect(short.teardown.grace == .seconds(2))
        #expect(short.teardown.signal == .terminate)
        let long = try plan(ttl: .seconds(60))
        #expect(long.renewEvery == .seconds(20))
        #expect(long.teardown.grace == .seconds(5))
        #expect(try plan(ttl: .milliseconds(10)).teardown.grace == Duration.milliseconds(10) / 3)
    }

    @Test func refusesAGraceThatIsNotShorterThanTheTTL() {
        #expect(throws: Runner.Plan.Refusal.graceNotShorterThanTTL(grace: .seconds(40), ttl: .seconds(30))) {
            try plan(ttl: .seconds(30), killAfter: .seconds(40))
        }
        #expect(throws: Runner.Plan.Refusal.graceNotShorterThanTTL(grace: .seconds(30), ttl: .seconds(30))) {
            try plan(ttl: .seconds(30), killAfter: .seconds(30))
        }
    }

    @Test func refusesAGraceThatLeavesNoTimeToRenew() throws {
        // 1 s of TTL loses 12 ms to clock drift: a 995 ms grace leaves no room for a round.
        #expect(throws: Runner.Plan.Refusal.self) { try plan(ttl: .seconds(1), killAfter: .milliseconds(995)) }
        #expect(try plan(ttl: .seconds(1), killAfter: .milliseconds(900)).teardown.grace == .milliseconds(900))
    }
}
