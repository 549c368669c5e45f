/// What a new connection asks before its first request, pipelined ahead of it: the
/// handshake costs no round trip of its own. Each step knows its command and what its
/// reply means; `Connection` acts on the meaning.
enum HandshakeStep: Equatable {
    /// AUTH [USER] PASSWORD.
    case authenticate
    /// SELECT DB, for a database other than 0.
    case selectDatabase(Int)
    /// INFO server: the uptime (for `--restart-grace`) and the run_id, which names the
    /// server whatever address reached it (one server, one vote).
    case describeServer
    /// ROLE: only a master votes (a writable replica's keys are lost on its next resync);
    /// through Sentinel, the address the sentinels named must be the master.
    case checkRole
    /// INFO server replication: `describeServer` and `checkRole` in one command, as every
    /// voting connection asks both. Every waiter of every `run` opens such a connection to
    /// each instance, so a second command there is a second command per waiter for Redis
    /// (the `make bench` load row). A server that cannot answer it (before Redis 7, INFO
    /// takes one section; INFO refused) is asked the two steps on their own afterwards.
    case describeServerAndRole

    /// What a reply to a step says.
    enum Finding: Equatable {
        /// Nothing to act on.
        case accepted
        /// INFO server's fields; nil where the server refused INFO (a managed service may).
        case server(uptimeSeconds: Int64?, runID: String?)
        /// ROLE's answer; nil where the server refused ROLE.
        case role(ServerRole?)
        /// INFO server replication's fields; a nil role: INFO did not say it (ask ROLE).
        case described(uptimeSeconds: Int64?, runID: String?, role: ServerRole?)
        /// The combined step told nothing: ask these steps on their own.
        case askSeparately([HandshakeStep])
        /// The step was refused: the connection cannot serve requests.
        case refused(RedisError)
    }

    /// The steps for a new connection to `endpoint`, in the order they are sent.
    static func plan(for endpoint: Endpoint, describesServer: Bool, checksRole: Bool) -> [HandshakeStep] {
        var steps: [HandshakeStep] = []
        if endpoint.password != nil { steps.append(.authenticate) }
        if endpoint.database != 0 { steps.append(.selectDatabase(endpoint.database)) }
        var role = checksRole
        // Through Sentinel, ROLE is always asked: the named address must be the master.
        if case .sentinel = endpoint.address { role = true }
        switch (describesServer, role) {
        case (true, true): steps.append(.describeServerAndRole)
        case (true, false): steps.append(.describeServer)
        case (false, true): steps.append(.checkRole)
        case (false, false): break
        }
        return steps
    }

    func command(for endpoint: Endpoint) -> Command {
        switch self {
        case .authenticate:
            var arguments = [Array("AUTH".utf8)]
            if let username = endpoint.username { arguments.append(Array(username.utf8)) }
            arguments.append(Array((endpoint.password ?? "").utf8))
            return Command(arguments: arguments)
        case let .selectDatabase(index):
            return Command("SELECT", String(index))
        case .describeServer:
            return Command("INFO", "server")
        case .checkRole:
            return Command("ROLE")
        case .describeServerAndRole:
            return Command("INFO", "server", "replication")
        }
    }

    func finding(in reply: Reply) -> Finding {
        switch self {
        case .authenticate:
            guard let message = reply.errorMessage else { return .accepted }
            let error = RedisError(errorReply: message)
            // Any refusal of AUTH is an authentication failure, whatever its wording.
            return .refused(error.isAccessDenied ? error : .authenticationFailed(message))
        case let .selectDatabase(index):
            guard let message = reply.errorMessage else { return .accepted }
            let error = RedisError(errorReply: message)
            if error.isAccessDenied { return .refused(error) }
            // "ERR DB index is out of range", or SELECT in cluster mode: the next attempt
            // would be refused the same way.
            return .refused(.misconfigured("cannot select database \(index): \(message)"))
        case .describeServer:
            guard let text = reply.text else { return .server(uptimeSeconds: nil, runID: nil) }
            let info = ServerInfo(text)
            return .server(uptimeSeconds: info["uptime_in_seconds"].flatMap { Int64($0) }, runID: info["run_id"].flatMap { $0.isEmpty ? nil : $0 })
        case .checkRole:
            return .role(reply.errorMessage == nil ? ServerRole(roleReply: reply) : nil)
        case .describeServerAndRole:
            guard case let .bulk(bytes) = reply else {
                // INFO refused: ROLE may still be allowed. Any other error (a server before
                // Redis 7 answers a syntax error to two sections): both on their own.
                if let message = reply.errorMessage, RedisError(errorReply: message).isAccessDenied { return .askSeparately([.checkRole]) }
                return .askSeparately([.describeServer, .checkRole])
            }
            var uptime, runID, mode, role, masterHost, masterPort: String?
            ServerInfo(bytes: bytes).forEachField { field, value in
                let text = { String(decoding: value, as: UTF8.self) }
                if ServerInfo.field(field, is: "uptime_in_seconds") { uptime = text() }
                else if ServerInfo.field(field, is: "run_id") { runID = text() }
                else if ServerInfo.field(field, is: "redis_mode") { mode = text() }
                else if ServerInfo.field(field, is: "role") { role = text() }
                else if ServerInfo.field(field, is: "master_host") { masterHost = text() }
                else if ServerInfo.field(field, is: "master_port") { masterPort = text() }
                return true
            }
            return .described(uptimeSeconds: uptime.flatMap { Int64($0) }, runID: runID.flatMap { $0.isEmpty ? nil : $0 },
                              role: ServerRole(mode: mode, role: role, masterHost: masterHost, masterPort: masterPort))
        }
    }
}

/// What a server says it is, in answer to ROLE.
public enum ServerRole: Equatable, Sendable, CustomStringConvertible {
    case master
    /// A replica, and the master it replicates (nil when the reply did not say).
    case replica(of: HostPort?)
    case sentinel
    /// Any other word.
    case other(String)

    init(roleReply reply: Reply) {
        let items = reply.elements ?? []
        switch items.first?.text ?? "\(reply)" {
        case "master": self = .master
        case "slave", "replica":
            var master: HostPort?
            if items.count >= 3, let host = items[1].text, let port = items[2].integer.flatMap({ UInt16(exactly: $0) }) {
                master = HostPort(host: host, port: port)
            }
            self = .replica(of: master)
        case "sentinel": self = .sentinel
        case let word: self = .other(word)
        }
    }

    /// The role INFO server replication gives (`role:`, `master_host:`, `master_port:`; a
    /// Sentinel says `redis_mode:sentinel` and has no replication section); nil when it
    /// does not say.
    init?(mode: String?, role: String?, masterHost: String?, masterPort: String?) {
        if mode == "sentinel" {
            self = .sentinel
            return
        }
        switch role {
        case nil: return nil
        case "master"?: self = .master
        case "slave"?, "replica"?:
            var master: HostPort?
            if let masterHost, let port = masterPort.flatMap({ UInt16($0) }) { master = HostPort(host: masterHost, port: port) }
            self = .replica(of: master)
        case let word?: self = .other(word)
        }
    }

    /// ROLE's own word: "master", "slave", "sentinel".
    public var description: String {
        switch self {
        case .master: return "master"
        case .replica: return "slave"
        case .sentinel: return "sentinel"
        case let .other(word): return word
        }
    }
}
