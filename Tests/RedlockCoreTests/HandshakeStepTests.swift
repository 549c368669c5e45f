import Testing
@testable import RedlockCore

/// What a new connection asks before its first request, and what the replies mean.
@Suite struct HandshakeStepTests {
    @Test func thePlanFollowsTheURL() throws {
        let plain = try Endpoint.parse("redis://127.0.0.1:6379")
        #expect(HandshakeStep.plan(for: plain, describesServer: false, checksRole: false) == [])
        // INFO and ROLE in one command: every waiter of every run pays the handshake.
        #expect(HandshakeStep.plan(for: plain, describesServer: true, checksRole: true) == [.describeServerAndRole])
        #expect(HandshakeStep.describeServerAndRole.command(for: plain).arguments == ["INFO", "server", "replication"].map { Array($0.utf8) })
        #expect(HandshakeStep.plan(for: plain, describesServer: true, checksRole: false) == [.describeServer])
        #expect(HandshakeStep.plan(for: plain, describesServer: false, checksRole: true) == [.checkRole])
        let full = try Endpoint.parse("redis://app:pw@127.0.0.1:6379/3")
        #expect(HandshakeStep.plan(for: full, describesServer: true, checksRole: true) == [.authenticate, .selectDatabase(3), .describeServerAndRole])
        #expect(HandshakeStep.authenticate.command(for: full).arguments == ["AUTH", "app", "pw"].map { Array($0.utf8) })
        // Through Sentinel, ROLE is always asked: the named address must be the master.
        let sentinel = try Endpoint.parse("redis+sentinel://127.0.0.1:26379/locks")
        #expect(HandshakeStep.plan(for: sentinel, describesServer: false, checksRole: false) == [.checkRole])
        #expect(HandshakeStep.plan(for: sentinel, describesServer: true, checksRole: false) == [.describeServerAndRole])
    }

    @Test func oneInfoGivesUptimeRunIDAndRole() {
        func info(_ lines: [String]) -> Reply { .bulk(Array(lines.joined(separator: "\r\n").utf8)) }
        let server = ["# Server", "redis_version:7.0.15", "redis_mode:standalone", "run_id:8f3c2a", "uptime_in_seconds:42", ""]
        let master = info(server + ["# Replication", "role:master", "connected_slaves:0", ""])
        #expect(HandshakeStep.describeServerAndRole.finding(in: master) == .described(uptimeSeconds: 42, runID: "8f3c2a", role: .master))
        let replica = info(server + ["# Replication", "role:slave", "master_host:10.0.0.5", "master_port:6379", "master_link_status:up", ""])
        #expect(HandshakeStep.describeServerAndRole.finding(in: replica) == .described(uptimeSeconds: 42, runID: "8f3c2a", role: .replica(of: HostPort(host: "10.0.0.5", port: 6379))))
        // A Sentinel's INFO has no replication section, but says what it is.
        let sentinel = info(["# Server", "redis_mode:sentinel", "run_id:77", "uptime_in_seconds:9", "", "# Sentinel", "sentinel_masters:1", ""])
        #expect(HandshakeStep.describeServerAndRole.finding(in: sentinel) == .described(uptimeSeconds: 9, runID: "77", role: .sentinel))
        // INFO that does not say the role: ROLE is asked (Connection does, on .described with a nil role).
        #expect(HandshakeStep.describeServerAndRole.finding(in: info(server)) == .described(uptimeSeconds: 42, runID: "8f3c2a", role: nil))
    }

    @Test func aServerThatCannotAnswerTheCombinedStepIsAskedTheTwoOnTheirOwn() {
        // Before Redis 7, INFO takes one section.
        #expect(HandshakeStep.describeServerAndRole.finding(in: .error("ERR syntax error")) == .askSeparately([.describeServer, .checkRole]))
        // INFO refused (a managed service): ROLE may still be allowed, and must still be asked.
        #expect(HandshakeStep.describeServerAndRole.finding(in: .error("NOPERM this user has no permissions to run the 'info' command")) == .askSeparately([.checkRole]))
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
