// N independent Redis masters, the setup Redlock is defined over.
//
// Most integration tests need "a quorum of masters" plus the means to inspect each one
// independently of redlock; this bundles the servers, the REDLOCK_URLS value that points
// redlock at them, and per-server oracle reads that tolerate dead or paused servers.

import Foundation

/// A set of `count` redis-server processes, all started on init and killed on deinit.
final class RedisFixture: @unchecked Sendable {
    /// The servers, in the order of `urls`.
    let servers: [RedisServer]

    /// Starts `count` servers with the same `extraArgs` (e.g. `["--requirepass", "pw"]`).
    /// Throws `RedisServerError.notInstalled` when redis-server is missing.
    init(count: Int, extraArgs: [String] = []) throws {
        try RedisServer.requireAvailable()
        var servers: [RedisServer] = []
        for _ in 0..<count {
            servers.append(try RedisServer.started(extraArgs: extraArgs))
        }
        self.servers = servers
    }

    var count: Int { servers.count }

    subscript(index: Int) -> RedisServer { servers[index] }

    /// `redis://127.0.0.1:<port>` for each server (ports are fixed for the fixture's life,
    /// `restartEmpty()` included).
    var urls: [String] { servers.map(\.url) }

    /// The URLs comma-joined, the value of REDLOCK_URLS.
    var urlList: String { urls.joined(separator: ",") }

    /// `["REDLOCK_URLS": urlList]`, to pass as a redlock run's environment.
    var environment: [String: String] { ["REDLOCK_URLS": urlList] }

    /// GET `key` on every server: the reply (`.bulk` or `.null`), or nil for a server that
    /// is dead, paused (no answer within `timeout`) or answered with an error.
    func valuesOf(key: String, timeout: TimeInterval = 2) -> [RESPValue?] {
        servers.map { server in
            guard let reply = try? server.client(timeout: timeout).command("GET", key), !reply.isError else { return nil }
            return reply
        }
    }

    /// PTTL of `key` on every server in milliseconds (-2: no such key, -1: no expiry), or
    /// nil for a server that is unreachable or gave a non-integer reply.
    func pttlOf(key: String, timeout: TimeInterval = 2) -> [Int64?] {
        servers.map { server in
            (try? server.client(timeout: timeout).command("PTTL", key))?.int
        }
    }

    /// Runs one command on every server, nil where it failed to get a reply.
    func commandOnEach(_ args: String..., timeout: TimeInterval = 2) -> [RESPValue?] {
        servers.map { server in try? server.client(timeout: timeout).command(args) }
    }
}
