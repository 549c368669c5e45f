import Foundation
import Testing

/// One server, one vote: every connection asks INFO server replication (run_id, role) in
/// its handshake. A server listed under two names would vote twice; a replica, even a writable
/// one, would accept a lock its master never sees (and lose it at the next resync).
@Suite struct ServerIdentityTests {
    private func freeDeadURL() throws -> String { "redis://127.0.0.1:\(try freeLoopbackPort())" }

    @Test func aWritableReplicaNeverVotes() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        // servers[1] replicates servers[2], a master not in the list, and takes writes.
        try redis.servers[1].client().command("CONFIG", "SET", "replica-read-only", "no")
        try redis.servers[1].client().command("REPLICAOF", "127.0.0.1", String(redis.servers[2].port))
        let urls = [redis.servers[0].url, redis.servers[1].url, try freeDeadURL()].joined(separator: ",")
        let result = try redlock(["run", "-n", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 69, "the replica's yes must not make a quorum with servers[0]: \(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("127.0.0.1:\(redis.servers[1].port): is a replica of 127.0.0.1:\(redis.servers[2].port); a replica never votes"), "\(result)")
        #expect(try redis.servers[1].client().command("GET", "k") == .null, "nothing was written to the replica")
    }

    /// Every waiter of every run opens a voting connection to each instance: the run_id,
    /// uptime and role come from one INFO, not INFO and ROLE (a command per waiter less).
    @Test func theHandshakeAsksTheServerOnce() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started()
        _ = try server.client().command("CONFIG", "RESETSTAT")
        #expect(try redlock(["-r", server.url, "run", "--queue", "none", "k", "--", "true"]).status == 0)
        let calls = try server.callsByCommand()
        #expect(calls["info"] == 1 && calls["role"] == nil, "\(calls)")
    }

    /// A waiter's subscription connections vote on nothing, so they skip the handshake's
    /// INFO: one INFO per waiter and instance, whether it waits in line or races.
    @Test(arguments: [["--queue", "none"], []])
    func aWaitersSubscriptionsDoNotAskInfo(queue: [String]) throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started()
        _ = try server.client().command("SET", "k", "another client", "PX", "60000")
        _ = try server.client().command("CONFIG", "RESETSTAT")
        let result = try redlock(["-r", server.url, "run"] + queue + ["--wait", "300ms", "k", "--", "true"])
        #expect(result.status == 75, "\(result)")
        let calls = try server.callsByCommand()
        #expect(calls["subscribe"] == 1 && calls["info"] == 1, "\(calls)")
    }

    /// A server that refuses INFO (like a managed service) is still asked ROLE: a writable
    /// replica behind such an ACL never votes either.
    @Test func aWritableReplicaThatRefusesInfoNeverVotes() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 3)
        try redis.servers[1].client().command("CONFIG", "SET", "replica-read-only", "no")
        try redis.servers[1].client().command("REPLICAOF", "127.0.0.1", String(redis.servers[2].port))
        try redis.servers[1].client().command("ACL", "SETUSER", "app", "on", ">app-pw-1", "~*", "&*", "+@all", "-info")
        let replica = "redis://app:app-pw-1@127.0.0.1:\(redis.servers[1].port)"
        let urls = [redis.servers[0].url, replica, try freeDeadURL()].joined(separator: ",")
        let result = try redlock(["run", "-n", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 69, "the replica's yes must not make a quorum with servers[0]: \(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("is a replica of 127.0.0.1:\(redis.servers[2].port); a replica never votes"), "\(result)")
        #expect(!result.stderr.contains("app-pw-1"))
        #expect(try redis.servers[1].client().command("GET", "k") == .null, "nothing was written to the replica")
    }

    /// A server that cannot answer INFO server replication otherwise than by refusing it
    /// (before Redis 7, INFO takes one section; here INFO is renamed away) is asked INFO
    /// server and ROLE on their own, after the request: a master still works, connection
    /// reused for the release, and a writable replica still never votes.
    @Test func aServerWithoutTheCombinedInfoIsAskedInfoAndRoleApart() throws {
        try RedisServer.requireAvailable()
        let master = try RedisServer.started(extraArgs: ["--rename-command", "INFO", ""])
        let run = try redlock(["-r", master.url, "run", "k", "--", "echo", "ran"])
        #expect(run.status == 0 && run.stdout == "ran\n", "\(run)")
        #expect(try master.client().command("EXISTS", "k") == .integer(0), "released")

        let redis = try RedisFixture(count: 2)
        let replica = try RedisServer.started(extraArgs: ["--rename-command", "INFO", "", "--replica-read-only", "no"])
        try replica.client().command("REPLICAOF", "127.0.0.1", String(redis.servers[1].port))
        let urls = [redis.servers[0].url, replica.url, try freeDeadURL()].joined(separator: ",")
        let result = try redlock(["run", "-n", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 69, "the replica's yes must not make a quorum with servers[0]: \(result)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("127.0.0.1:\(replica.port): is a replica of 127.0.0.1:\(redis.servers[1].port); a replica never votes"), "\(result)")
    }

    /// Runs redlock with `urls` and expects exit 78 naming both spellings, COMMAND not run,
    /// and no password in the output.
    private func expectRefusedAsDuplicates(_ urls: [String], naming first: String, _ second: String, password: String? = nil) throws {
        let result = try redlock(["run", "-w", "5s", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": urls.joined(separator: ",")])
        #expect(result.status == 78, "\(result)")
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.last?.hasPrefix("redlock: ") == true && lines.last?.contains(first) == true && lines.last?.contains(second) == true, "\(result)")
        if let password { #expect(!result.stderr.contains(password)) }
    }

    @Test func oneServerUnderTwoNamesIsRefused() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started(extraArgs: ["--requirepass", "dup-pw-7"])
        let port = server.port
        let dead = try freeDeadURL()
        try expectRefusedAsDuplicates(["redis://:dup-pw-7@127.0.0.1:\(port)", "redis://:dup-pw-7@localhost:\(port)", dead],
                                      naming: "127.0.0.1:\(port)/0", "localhost:\(port)/0", password: "dup-pw-7")
        try expectRefusedAsDuplicates(["redis://:dup-pw-7@127.0.0.1:\(port)/0", "redis://:dup-pw-7@127.0.0.1:\(port)/1", dead],
                                      naming: "127.0.0.1:\(port)/0", "127.0.0.1:\(port)/1", password: "dup-pw-7")
        for database in ["0", "1"] {
            let client = try server.client()
            _ = try client.command("SELECT", database)
            #expect(try client.command("EXISTS", "k") == .integer(0), "no lock is left behind in database \(database)")
        }
    }

    @Test func oneServerOverAUnixSocketAndTCPIsRefused() throws {
        try RedisServer.requireAvailable()
        let scratch = try TestScratch()
        let socket = scratch.file("redis.sock")
        let server = try RedisServer.started(extraArgs: ["--unixsocket", socket, "--unixsocketperm", "700"])
        try expectRefusedAsDuplicates(["unix://\(socket)", server.url, try freeDeadURL()], naming: "\(socket)/0", "127.0.0.1:\(server.port)/0")
        #expect(try server.client().command("EXISTS", "k") == .integer(0), "no lock is left behind")
    }

    /// Every command that counts votes refuses one server under two names, not only run and
    /// acquire: extend and release would confirm on "2 of 3" from one server, inspect and
    /// force-release would count its answer twice towards a quorum.
    @Test(arguments: ["extend", "release", "inspect", "force-release"])
    func everyCommandThatCountsVotesRefusesOneServerListedTwice(_ command: String) throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started(extraArgs: ["--requirepass", "dup-pw-8"])
        let port = server.port
        let single = "redis://:dup-pw-8@127.0.0.1:\(port)"
        // A real lock and its token, taken through the server listed once.
        let acquired = try redlock(["acquire", "--ttl", "60s", "k"], environment: ["REDLOCK_URLS": single])
        #expect(acquired.status == 0, "\(acquired)")
        let token = acquired.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let arguments: [String]
        switch command {
        case "extend": arguments = ["extend", "--token", token, "--ttl", "90s", "k"]
        case "release": arguments = ["release", "--token", token, "k"]
        case "inspect": arguments = ["inspect", "k"]
        default: arguments = ["force-release", "--yes", "k"]
        }
        let urls = [single, "redis://:dup-pw-8@localhost:\(port)", try freeDeadURL()].joined(separator: ",")
        let result = try redlock(arguments, environment: ["REDLOCK_URLS": urls])
        #expect(result.status == 78, "\(command): \(result)")
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("redlock: "), "\(command): \(result)")
        #expect(result.stderr.contains("127.0.0.1:\(port)/0") && result.stderr.contains("localhost:\(port)/0"), "\(command): \(result)")
        #expect(!result.stdout.contains("dup-pw-8") && !result.stderr.contains("dup-pw-8"))
        if command == "force-release" {
            // Refused before anything is deleted: the duplicate is found by a PING round first.
            #expect(try server.client().command("EXISTS", "k") == .integer(1), "nothing deleted")
        }
    }

    @Test func doctorReportsOneServerListedTwice() throws {
        try RedisServer.requireAvailable()
        let redis = try RedisFixture(count: 2)
        let port = redis.servers[0].port
        let urls = ["redis://127.0.0.1:\(port)", "redis://localhost:\(port)", redis.servers[1].url].joined(separator: ",")
        let result = try redlock(["doctor"], environment: ["REDLOCK_URLS": urls])
        #expect(result.stdout.contains("the same Redis server as 127.0.0.1:\(port)/0"), "\(result)")
        // Two usable servers of three: a quorum, but none can fail; the duplicate is an error.
        #expect(result.status == 1, "\(result)")
        let json = try redlock(["doctor", "--json"], environment: ["REDLOCK_URLS": urls])
        #expect(json.stdout.contains("the same Redis server as"), "\(json)")
    }
}
