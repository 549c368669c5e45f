import Foundation
import Testing

/// The ways of reaching an instance: unix sockets, ACL users, databases.
@Suite struct ConnectionFormTests {
    @Test func unixSocket() throws {
        try RedisServer.requireAvailable()
        let scratch = try TestScratch()
        let socket = scratch.file("redis.sock")
        let server = try RedisServer.started(extraArgs: ["--unixsocket", socket, "--unixsocketperm", "700"])
        let result = try redlock(["run", "k", "--", "echo", "ran"], environment: ["REDLOCK_URLS": "unix://\(socket)?db=2"])
        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == "ran\n")
        let held = try RedlockProcess(["-r", "unix://\(socket)?db=2", "run", "k2", "--", "sleep", "1"])
        let inDatabase2 = {
            let client = try server.client()
            _ = try client.command("SELECT", "2")
            return try client.command("GET", "k2")
        }
        #expect(eventually { (try? inDatabase2())?.string?.hasPrefix("redlock1 ") == true })
        #expect(try held.wait(timeout: 20).status == 0)
    }

    @Test func aclUserAndDatabase() throws {
        try RedisServer.requireAvailable()
        let server = try RedisServer.started()
        try server.client().command("ACL", "SETUSER", "deploy", "on", ">deploy-pw-1", "~*", "&*", "+@all")
        try server.client().command("ACL", "SETUSER", "watcher", "on", ">watcher-pw-1", "~*", "+ping", "+info")
        let url = "redis://deploy:deploy-pw-1@127.0.0.1:\(server.port)/3"
        let held = try RedlockProcess(["-r", url, "run", "k", "--", "sleep", "1"])
        let inDatabase3 = {
            let client = try server.client()
            _ = try client.command("SELECT", "3")
            return try client.command("GET", "k")
        }
        #expect(eventually { (try? inDatabase3())?.string?.hasPrefix("redlock1 ") == true })
        #expect(try server.client().command("GET", "k") == .null, "database 0 is untouched")
        #expect(try held.wait(timeout: 20).status == 0)

        // A user the ACL does not allow to run scripts: refused, 77, and no password shown.
        let limited = try redlock(["-r", "redis://watcher:watcher-pw-1@127.0.0.1:\(server.port)", "run", "k", "--", "true"])
        #expect(limited.status == 77, "\(limited)")
        #expect(limited.stderr.contains("127.0.0.1:\(server.port)"))
        #expect(!limited.stderr.contains("watcher-pw-1"))
        let wrongUser = try redlock(["-r", "redis://nobody:deploy-pw-1@127.0.0.1:\(server.port)", "run", "k", "--", "true"])
        #expect(wrongUser.status == 77)
    }
}
