/// One Redis instance of the quorum, parsed from a URL.
///
/// `description` names the instance as `host:port` (or the socket path) and is what every
/// message uses: it never contains the user name's password.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public enum Address: Hashable, Sendable {
        case tcp(host: String, port: UInt16)
        case unix(path: String)
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
    }

    public var description: String {
        switch address {
        case let .tcp(host, port):
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case let .unix(path):
            return path
        }
    }

    /// Two URLs name the same instance when they reach the same address and database;
    /// credentials do not make a second instance.
    public var identity: String { "\(description)/\(database)" }

    public static let defaultURL = "redis://127.0.0.1:6379"
}

/// Why a URL is not a usable endpoint. The message quotes the URL with its password hidden.
public struct EndpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ url: String, _ reason: String) {
        description = "bad Redis URL '\(Endpoint.redacted(url))': \(reason)"
    }
}

extension Endpoint {
    /// Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` and `unix:///path[?db=N]`.
    public static func parse(_ url: String) throws(EndpointError) -> Endpoint {
        guard let (schemeText, rest) = splitScheme(url) else {
            throw EndpointError(url, "expected redis://HOST[:PORT][/DB] or unix:///PATH")
        }
        let scheme = schemeText.lowercased()
        switch scheme {
        case "redis":
            return try parseTCP(rest, url: url)
        case "unix":
            return try parseUnix(rest, url: url)
        case "rediss", "redis+sentinel", "redis+cluster":
            throw EndpointError(url, "\(scheme):// is not supported yet")
        default:
            throw EndpointError(url, "unknown scheme '\(scheme)' (expected redis:// or unix://)")
        }
    }

    private static func parseTCP(_ rest: String, url: String) throws(EndpointError) -> Endpoint {
        var remainder = Substring(rest)
        var username: String?
        var password: String?
        if let at = remainder.lastIndex(of: "@") {
            let userInfo = remainder[..<at]
            remainder = remainder[remainder.index(after: at)...]
            guard let colon = userInfo.firstIndex(of: ":") else {
                throw EndpointError(url, "credentials must be USER:PASSWORD@ or :PASSWORD@")
            }
            let user = try percentDecoded(userInfo[..<colon], url: url)
            username = user.isEmpty ? nil : user
            password = try percentDecoded(userInfo[userInfo.index(after: colon)...], url: url)
            if password?.isEmpty == true { password = nil }
        }
        var database = 0
        if let slash = remainder.firstIndex(of: "/") {
            let path = remainder[remainder.index(after: slash)...]
            remainder = remainder[..<slash]
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else {
                    throw EndpointError(url, "database '\(path)' is not a number >= 0")
                }
                database = number
            }
        }
        var host: Substring
        var portText: Substring?
        if remainder.hasPrefix("[") {
            guard let close = remainder.firstIndex(of: "]") else {
                throw EndpointError(url, "unclosed '[' in IPv6 address")
            }
            host = remainder[remainder.index(after: remainder.startIndex)..<close]
            let after = remainder[remainder.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw EndpointError(url, "unexpected text after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = remainder.lastIndex(of: ":") {
            host = remainder[..<colon]
            portText = remainder[remainder.index(after: colon)...]
            if host.contains(":") {
                throw EndpointError(url, "write an IPv6 address in brackets, as [::1]")
            }
        } else {
            host = remainder
        }
        guard !host.isEmpty else { throw EndpointError(url, "missing host") }
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || "-._:%".contains($0) }) else {
            throw EndpointError(url, "'\(host)' is not a host name or address")
        }
        var port: UInt16 = 6379
        if let portText {
            guard let number = UInt16(portText), number > 0 else {
                throw EndpointError(url, "port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        }
        return Endpoint(address: .tcp(host: String(host), port: port), username: username, password: password, database: database)
    }

    private static func parseUnix(_ rest: String, url: String) throws(EndpointError) -> Endpoint {
        var path = Substring(rest)
        var database = 0
        if let question = path.firstIndex(of: "?") {
            let query = path[path.index(after: question)...]
            path = path[..<question]
            for item in query.split(separator: "&") {
                let parts = item.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0] == "db", let number = Int(parts[1]), number >= 0 else {
                    throw EndpointError(url, "unknown query '\(item)' (only db=N is known)")
                }
                database = number
            }
        }
        guard path.hasPrefix("/") else { throw EndpointError(url, "expected an absolute path: unix:///path/to/redis.sock") }
        guard path.utf8.count < 108 else { throw EndpointError(url, "socket path longer than 107 bytes") }
        return Endpoint(address: .unix(path: String(path)), database: database)
    }

    private static func percentDecoded(_ text: Substring, url: String) throws(EndpointError) -> String {
        guard let bytes = PercentEncoding.decode(Array(text.utf8)) else {
            throw EndpointError(url, "bad percent-encoding in credentials")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The URL with anything between "://" and "@" replaced, for error messages.
    public static func redacted(_ url: String) -> String {
        guard let (scheme, rest) = splitScheme(url), let at = rest.lastIndex(of: "@") else { return url }
        return scheme + "://***@" + rest[rest.index(after: at)...]
    }

    /// "redis://host" as ("redis", "host"); nil without "://".
    private static func splitScheme(_ url: String) -> (String, String)? {
        let characters = Array(url)
        guard characters.count >= 3 else { return nil }
        for index in 0...(characters.count - 3) where characters[index] == ":" && characters[index + 1] == "/" && characters[index + 2] == "/" {
            return (String(characters[..<index]), String(characters[(index + 3)...]))
        }
        return nil
    }
}
