/// Why one instance did not answer a request usefully. Every case counts as a "no" from that
/// instance in a quorum round; the text is a sentence fragment that follows "host:port: ".
public enum RedisError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The connection could not be made (refused, unreachable, name not resolved).
    case connectionFailed(String)
    /// No answer before the deadline (`--connect-timeout` or `--op-timeout`).
    case timedOut(String)
    /// A round decided without this instance did not wait for its reply (`reason` says
    /// why). Not a timeout: often no time passed at all. The request may still run there.
    case notWaitedFor(String)
    /// The instance closed the connection.
    case connectionClosed
    /// No sentinel of a `redis+sentinel://` URL gave the master's address, or the address
    /// it gave is not a master.
    case sentinel(String)
    /// TLS failed: the handshake (certificate verification, a peer that does not speak
    /// TLS, a missing client certificate) or the encrypted stream. `remedy`: the setting
    /// that would cure it, said in words here; the CLI names its option.
    case tls(String, remedy: TLSRemedy? = nil)
    /// AUTH was refused: wrong password or user, or a password is needed.
    case authenticationFailed(String)
    /// The ACL denies a command (NOPERM).
    case permissionDenied(String)
    /// The instance is a replica (READONLY).
    case readOnly(String)
    /// The instance cannot serve redlock as the URL asks, and will not on the next attempt
    /// either: a database index out of range, a command redlock needs disabled or renamed
    /// (EVALSHA, EVAL), a replica or a sentinel where a master is needed. The text is the
    /// whole sentence fragment.
    case misconfigured(String)
    /// maxmemory reached with noeviction (OOM).
    case outOfMemory(String)
    /// The script is not in the script cache (NOSCRIPT); redlock then sends it whole.
    case noScript(String)
    /// The key holds something that is not a string (WRONGTYPE).
    case wrongType(String)
    /// Any other error reply.
    case server(String)
    /// Bytes that are not RESP.
    case protocolViolation(String)
    /// A reply of a shape the request cannot produce.
    case unexpectedReply(String)

    /// Classifies an error reply by its code (the first word).
    public init(errorReply reply: String) {
        let message = Self.withoutEchoedArguments(reply)
        let code = message.prefix { $0 != " " }
        switch code {
        case "WRONGPASS", "NOAUTH", "INVALIDPASSWORD": self = .authenticationFailed(message)
        case "NOPERM": self = .permissionDenied(message)
        case "READONLY": self = .readOnly(message)
        case "OOM": self = .outOfMemory(message)
        case "NOSCRIPT": self = .noScript(message)
        case "WRONGTYPE": self = .wrongType(message)
        case "ERR" where message.hasPrefix("ERR unknown command"):
            // rename-command EVALSHA "" (or a managed service that disables scripting). The
            // arguments Redis echoes (the lock's value) say nothing more.
            self = .misconfigured("cannot run a command redlock needs: \(message)")
        default:
            // "ERR AUTH <password> called without any password configured" and older wordings.
            if message.hasPrefix("ERR") && message.localizedCaseInsensitiveContainsASCII("password") {
                self = .authenticationFailed(message)
            } else {
                self = .server(message)
            }
        }
    }

    /// The reply without the arguments a server echoes ("ERR unknown command 'EVALSHA',
    /// with args beginning with: 'sha' 'key' 'redlock1 <token> ...'"): they are our lock
    /// value and token, which no message may print.
    ///
    /// It searches bytes: every first request to an instance that lost its script cache gets
    /// a NOSCRIPT reply through here, and String's generic `firstRange(of:)` cost 0.6 M
    /// instructions on first use, more than the rest of a `run`.
    static func withoutEchoedArguments(_ reply: String) -> String {
        let bytes = Array(reply.utf8)
        let marker = Array(" with args beginning with".utf8)
        guard bytes.count >= marker.count else { return hidingLockTokens(reply) }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            guard bytes[start..<(start + marker.count)].elementsEqual(marker) else { continue }
            let end = start > 0 && bytes[start - 1] == UInt8(ascii: ",") ? start - 1 : start
            return hidingLockTokens(String(decoding: bytes[..<end], as: UTF8.self))
        }
        return hidingLockTokens(reply)
    }

    /// `text` with the token after every "redlock1 " (a lock value's start, in an error or an
    /// unexpected reply a server made up) replaced by "***": a token is what releases a lock.
    public static func hidingLockTokens(_ text: String) -> String {
        let bytes = Array(text.utf8)
        let marker = Array("redlock1 ".utf8)
        guard bytes.count > marker.count else { return text }
        var out: [UInt8] = []
        var index = 0
        var changed = false
        while index < bytes.count {
            if bytes[index] == marker[0], index + marker.count <= bytes.count, bytes[index..<(index + marker.count)].elementsEqual(marker) {
                out += marker
                index += marker.count
                var end = index
                while end < bytes.count, bytes[end] != UInt8(ascii: " "), bytes[end] != UInt8(ascii: "'"), bytes[end] != UInt8(ascii: "\"") { end += 1 }
                if end > index { out += Array("***".utf8); changed = true }
                index = end
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : text
    }

    /// Refused authentication or an ACL denial: exit 77, not 69.
    public var isAccessDenied: Bool {
        switch self {
        case .authenticationFailed, .permissionDenied: return true
        default: return false
        }
    }

    /// A failure that trying again cannot cure: a refusal of our credentials, a TLS
    /// handshake that failed (the certificate will not verify on the next attempt either,
    /// and a plain-text port stays one), or an instance that cannot serve as configured
    /// (`misconfigured`: a database out of range, EVALSHA disabled, a replica), or a key of
    /// the lock that holds another type (WRONGTYPE: until someone deletes it, every attempt
    /// meets it again). Waiting for a lock stops when too many instances fail this way.
    public var isPermanent: Bool {
        switch self {
        case .authenticationFailed, .permissionDenied, .tls, .misconfigured, .wrongType: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .connectionFailed(reason): return "cannot connect: \(reason)"
        case let .timedOut(what): return "timed out \(what)"
        case let .notWaitedFor(reason): return "not waited for: \(reason)"
        case .connectionClosed: return "connection closed by the server"
        case let .tls(reason, remedy): return "TLS \(reason)" + (remedy.map { " (\($0))" } ?? "")
        case let .sentinel(reason): return reason
        case let .authenticationFailed(message): return "authentication failed: \(message)"
        case let .permissionDenied(message): return "permission denied: \(message)"
        case let .readOnly(message): return "read-only replica, not a master: \(message)"
        case let .misconfigured(reason): return reason
        case let .outOfMemory(message): return "out of memory: \(message)"
        case let .noScript(message): return "script not loaded: \(message)"
        case let .wrongType(message): return "key holds a value that is not a string: \(message)"
        case let .server(message): return "error: \(message)"
        case let .protocolViolation(message): return "protocol error (not a Redis server?): \(message)"
        case let .unexpectedReply(message): return "unexpected reply: \(message)"
        }
    }
}

/// A failure on one named instance; its description is the one line users read.
public struct InstanceError: Error, Sendable, CustomStringConvertible {
    public let endpoint: Endpoint
    public let error: RedisError

    public init(endpoint: Endpoint, error: RedisError) {
        self.endpoint = endpoint
        self.error = error
    }

    public var description: String { "\(endpoint): \(error)" }
}

extension String {
    func localizedCaseInsensitiveContainsASCII(_ needle: String) -> Bool {
        lowercased().contains(needle.lowercased())
    }
}
