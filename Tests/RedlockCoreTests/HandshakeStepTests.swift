import Testing
@testable import RedlockCore

/// What a new connection asks before its first request, and what the replies mean.
@Suite struct HandshakeStepTests {
    @Test func thePlanFollowsTheURL() throws {
        let plain = try Endpoint.parse("redis://127.0.0.1:6379")
        #expect(HandshakeStep.plan(for: plain, describesServer: false, checksRole: false) == [])
        #expect(HandshakeStep.plan(for: plain, describesServer: true, checksRole: true) == [.describeServer, .checkRole])
        let full = try Endpoint.parse("redis://app:pw@127.0.0.1:6379/3")
        #expect(HandshakeStep.plan(for: full, describesServer: true, checksRole: true) == [.authenticate, .selectDatabase(3), .describeServer, .checkRole])
        #expect(HandshakeStep.authenticate.command(for: full).arguments == ["AUTH", "app", "pw"].map { Array($0.utf8) })
        // Through Sentinel, ROLE is always asked: the named address must be the master.
        let sentinel = try Endpoint.parse("redis+sentinel://127.0.0.1:26379/locks")
        #expect(HandshakeStep.plan(for: sentinel, describesServer: false, checksRole: false) == [.checkRole])
    }

    @Test func infoGivesUptimeAndRunID() {
        let info = Reply.bulk(Array("# Server\r\nredis_version:7.0.15\r\nrun_id:8f3c2a\r\nuptime_in_seconds:42\r\n".utf8))
        #expect(HandshakeStep.describeServer.finding(in: info) == .server(uptimeSeconds: 42, runID: "8f3c2a"))
        // A managed service may refuse INFO: unknown, not a failure.
        #expect(HandshakeStep.describeServer.finding(in: .error("NOPERM this user has no permissions to run the 'info' command")) == .server(uptimeSeconds: nil, runID: nil))
    }

    @Test func roleRepliesAreRead() {
        let master = Reply.array([.bulk(Array("master".utf8)), .integer(0), .array([])])
        #expect(HandshakeStep.checkRole.finding(in: master) == .role(.master))
        let replica = Reply.array([.bulk(Array("slave".utf8)), .bulk(Array("10.0.0.5".utf8)), .integer(6379), .bulk(Array("connected".utf8)), .integer(0)])
        #expect(HandshakeStep.checkRole.finding(in: replica) == .role(.replica(of: HostPort(host: "10.0.0.5", port: 6379))))
        #expect(HandshakeStep.checkRole.finding(in: .array([.bulk(Array("sentinel".utf8)), .array([])])) == .role(.sentinel))
        #expect(HandshakeStep.checkRole.finding(in: .error("NOPERM")) == .role(nil))
    }

    @Test func refusalsSayWhyAndArePermanent() {
        guard case let .refused(auth) = HandshakeStep.authenticate.finding(in: .error("ERR invalid password")) else {
            Issue.record("AUTH refusal not seen")
            return
        }
        #expect(auth.isAccessDenied && auth.isPermanent)
        let select = HandshakeStep.selectDatabase(5).finding(in: .error("ERR DB index is out of range"))
        #expect(select == .refused(.misconfigured("cannot select database 5: ERR DB index is out of range")))
        #expect(HandshakeStep.selectDatabase(5).finding(in: .status("OK")) == .accepted)
    }
}
