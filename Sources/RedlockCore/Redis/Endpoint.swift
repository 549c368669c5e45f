/// One Redis instance of the quorum, parsed from a URL.
///
/// `description` names the instance as `host:port` (or the socket path) and is what every
/// message uses: it never contains the user name's password.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public enum Address: Hashable, Sendable {
        case tcp(host: String, port: UInt16)
        case unix(path: String)
        /// A master that Redis Sentinel names: the sentinels to ask, in turn, and the name.
        case sentinel(sentinels: [HostPort], master: String)
        /// A Redis Cluster, known by some of its nodes (seeds); one instance of the quorum.
        case cluster(seeds: [HostPort])
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int
    /// `rediss://`, `rediss+sentinel://`, `rediss+cluster://`: every connection is TLS (to the
    /// sentinels and the master, to every cluster node), with one `TLSConfiguration` for all.
    public var usesTLS: Bool

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0, usesTLS: Bool = false) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.usesTLS = usesTLS
    }

    public var description: String {
        switch address {
        case let .tcp(host, port):
            return HostPort(host: host, port: port).description
        case let .unix(path):
            return path
        case let .sentinel(sentinels, master):
            return "\(master) via sentinel \(sentinels.map(\.description).joined(separator: ","))"
        case let .cluster(seeds):
            return "cluster \(seeds.map(\.description).joined(separator: ","))"
        }
    }

    /// Two URLs name the same instance when they reach the same address and database;
    /// credentials (and TLS or not, on one port) do not make a second instance.
    public var identity: String { "\(description)/\(database)" }

    public static let defaultURL = "redis://127.0.0.1:6379"
}

/// A TCP address as a URL writes it; `description` is `host:port` (`[::1]:port` for IPv6).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a URL is not a usable endpoint. The message quotes the URL with its password hidden.
public struct EndpointError: Error, Equatable, Sendable, CustomStringConvertible {
    public let description: String
    init(_ url: String, _ reason: String) {
        self.init(description: "bad Redis URL '\(Endpoint.redacted(url))': \(reason)")
    }

    private init(description: String) {
        self.description = description
    }

    /// For a HOST:PORT that does not parse in a URL without '@': `redis://user:secret` and
    /// `redis://:secret` are credentials that lost their "@host", so the part between
    /// "://" and the path is not quoted either.
    init(hidingAddressOf url: String, _ reason: String) {
        guard !url.contains("@"), let separator = url.firstRange(of: "://") else {
            self.init(url, reason)
            return
        }
        let rest = url[separator.upperBound...]
        let path = rest.firstIndex(of: "/").map { rest[$0...] } ?? ""
        self.init(description: "bad Redis URL '\(url[..<separator.upperBound])***\(path)': \(reason)")
    }
}

extension Endpoint {
    /// Parses `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`, the same with `rediss://` (TLS),
    /// `redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]`,
    /// `redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]` (both also with `rediss+`
    /// for TLS) and `unix:///path[?db=N]`.
    public static func parse(_ url: String) throws(EndpointError) -> Endpoint {
        guard let (schemeText, rest) = splitScheme(url) else {
            throw EndpointError(url, "expected redis://HOST[:PORT][/DB], rediss://HOST[:PORT][/DB] or unix:///PATH")
        }
        let scheme = schemeText.lowercased()
        switch scheme {
        case "redis":
            return try parseTCP(rest, url: url)
        case "rediss":
            var endpoint = try parseTCP(rest, url: url)
            endpoint.usesTLS = true
            return endpoint
        case "redis+sentinel", "rediss+sentinel":
            var endpoint = try parseSentinel(rest, url: url)
            endpoint.usesTLS = scheme == "rediss+sentinel"
            return endpoint
        case "redis+cluster", "rediss+cluster":
            var endpoint = try parseCluster(rest, url: url)
            endpoint.usesTLS = scheme == "rediss+cluster"
            return endpoint
        case "unix":
            return try parseUnix(rest, url: url)
        default:
            throw EndpointError(url, "unknown scheme '\(redacted(schemeText))' (expected redis://, rediss://, redis+sentinel://, redis+cluster:// or unix://)")
        }
    }

    private static func parseTCP(_ rest: String, url: String) throws(EndpointError) -> Endpoint {
        var (username, password, remainder) = try splitCredentials(Substring(rest), url: url)
        try refuseQuery(remainder, url: url)
        var database = 0
        if let slash = remainder.firstIndex(of: "/") {
            database = try parseDatabase(remainder[remainder.index(after: slash)...], url: url)
            remainder = remainder[..<slash]
        }
        let address = try parseHostPort(remainder, defaultPort: 6379, url: url)
        return Endpoint(address: .tcp(host: address.host, port: address.port), username: username, password: password, database: database)
    }

    /// `[[USER]:PASSWORD@]H:P[,H:P...]/MASTER[/DB]`: the credentials and database are the
    /// master's; the sentinels are asked without credentials.
    private static func parseSentinel(_ rest: String, url: String) throws(EndpointError) -> Endpoint {
        let (username, password, remainder) = try splitCredentials(Substring(rest), url: url)
        try refuseQuery(remainder, url: url)
        guard let slash = remainder.firstIndex(of: "/") else {
            throw EndpointError(url, "missing master name (redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB])")
        }
        let sentinels = try parseHostList(remainder[..<slash], defaultPort: 26379, url: url)
        let path = remainder[remainder.index(after: slash)...]
        let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let master = parts.first ?? ""
        guard !master.isEmpty else {
            throw EndpointError(url, "missing master name (redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTER[/DB])")
        }
        guard master.allSatisfy({ $0.isLetter || $0.isNumber || "-._:".contains($0) }) else {
            throw EndpointError(url, "'\(master)' is not a master name")
        }
        let database = parts.count > 1 ? try parseDatabase(parts[1], url: url) : 0
        return Endpoint(address: .sentinel(sentinels: sentinels, master: String(master)), username: username, password: password, database: database)
    }

    /// `[[USER]:PASSWORD@]H:P[,H:P...]`: the nodes to learn the slot map from. A cluster has
    /// only database 0.
    private static func parseCluster(_ rest: String, url: String) throws(EndpointError) -> Endpoint {
        var (username, password, remainder) = try splitCredentials(Substring(rest), url: url)
        try refuseQuery(remainder, url: url)
        if let slash = remainder.firstIndex(of: "/") {
            let path = remainder[remainder.index(after: slash)...]
            guard path.isEmpty || path == "0" else {
                throw EndpointError(url, "a Redis Cluster has only database 0")
            }
            remainder = remainder[..<slash]
        }
        let seeds = try parseHostList(remainder, defaultPort: 6379, url: url)
        return Endpoint(address: .cluster(seeds: seeds), username: username, password: password)
    }

    /// `[[USER]:PASSWORD@]REST` as (user, password, REST), percent-decoded; empty parts are nil.
    private static func splitCredentials(_ text: Substring, url: String) throws(EndpointError) -> (String?, String?, Substring) {
        guard let at = text.lastIndex(of: "@") else { return (nil, nil, text) }
        let userInfo = text[..<at]
        guard let colon = userInfo.firstIndex(of: ":") else {
            throw EndpointError(url, "credentials must be USER:PASSWORD@ or :PASSWORD@")
        }
        let user = try percentDecoded(userInfo[..<colon], url: url)
        let password = try percentDecoded(userInfo[userInfo.index(after: colon)...], url: url)
        return (user.isEmpty ? nil : user, password.isEmpty ? nil : password, text[text.index(after: at)...])
    }

    private static func parseDatabase(_ path: Substring, url: String) throws(EndpointError) -> Int {
        guard !path.isEmpty else { return 0 }
        guard let number = Int(path), number >= 0 else {
            throw EndpointError(url, "database '\(path)' is not a number >= 0")
        }
        return number
    }

    /// `H:P[,H:P...]`, at least one, no address twice.
    private static func parseHostList(_ text: Substring, defaultPort: UInt16, url: String) throws(EndpointError) -> [HostPort] {
        var list: [HostPort] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let address = try parseHostPort(item, defaultPort: defaultPort, url: url)
            guard !list.contains(address) else { throw EndpointError(url, "\(address) is listed twice") }
            list.append(address)
        }
        return list
    }

    private static func parseHostPort(_ text: Substring, defaultPort: UInt16, url: String) throws(EndpointError) -> HostPort {
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw EndpointError(url, "unclosed '[' in IPv6 address")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw EndpointError(url, "unexpected text after ']'") }
                portText = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw EndpointError(url, "write an IPv6 address in brackets, as [::1]")
            }
        } else {
            host = text
        }
        guard !host.isEmpty else {
            throw portText == nil ? EndpointError(url, "missing host") : EndpointError(hidingAddressOf: url, "missing host")
        }
        // ASCII only: what the resolver takes (an international name goes in its xn-- form).
        guard host.utf8.allSatisfy(isHostByte) else {
            throw EndpointError(url, "'\(host)' is not a host name or address")
        }
        var port = defaultPort
        if let portText {
            guard let number = UInt16(portText), number > 0 else {
                guard portText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw EndpointError(hidingAddressOf: url, "the port is not a number from 1 to 65535")
                }
                throw EndpointError(url, "port '\(portText)' is not a number from 1 to 65535")
            }
            port = number
        }
        return HostPort(host: String(host), port: port)
    }

    /// A letter, digit or one of "-._:%" (IPv6 literals and their zone, as in fe80::1%eth0).
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"): true
        default: false
        }
    }

    /// Only unix:// takes a query (`?db=N`). Other clients take `?password=...` in a URL;
    /// here that is an error, which must not quote it (`redacted` hides query values).
    private static func refuseQuery(_ remainder: Substring, url: String) throws(EndpointError) {
        guard remainder.contains("?") else { return }
        throw EndpointError(url, "query parameters are not supported here (the database is /N after the host; a password goes before '@')")
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
                    // The name only: the value may be a password (`?password=...`, as
                    // other clients take one), and so may an item without '='.
                    let name = parts.count == 2 && parts[0] != "db" ? " '\(parts[0])'" : ""
                    throw EndpointError(url, "unknown query parameter\(name) (only db=N is known)")
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

    /// The URL with whatever could be a credential replaced, for error messages: all that
    /// stands before the last "@", except a known scheme and the ':' and '/' after it. A
    /// malformed URL (`redis:/:PW@h`, `redis//:PW@h`, `redis:PW@h`, `PW@h`) is redacted
    /// as well as a good one: the shape that failed to parse is the one that leaks.
    /// A query's values are hidden too, but for db=N: other clients take `?password=...`.
    public static func redacted(_ url: String) -> String {
        let bytes = Array(url.utf8)
        guard let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return hidingQueryValues(url) }
        var keep = 0
        while keep < at, isSchemeByte(bytes[keep]) { keep += 1 }
        let scheme = String(decoding: bytes[..<keep], as: UTF8.self).lowercased()
        if keep > 0, keep < at, knownSchemes.contains(scheme), bytes[keep] == UInt8(ascii: ":") || bytes[keep] == UInt8(ascii: "/") {
            if bytes[keep] == UInt8(ascii: ":") { keep += 1 }
            while keep < at, bytes[keep] == UInt8(ascii: "/") { keep += 1 }
        } else {
            keep = 0
        }
        return String(decoding: bytes[..<keep], as: UTF8.self) + "***" + hidingQueryValues(String(decoding: bytes[at...], as: UTF8.self))
    }

    /// `text` with the value of every query item but db=N replaced ("?password=***"), and
    /// items without '=' altogether.
    private static func hidingQueryValues(_ text: String) -> String {
        guard let question = text.firstIndex(of: "?") else { return text }
        let items = text[text.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { item in
            if item.hasPrefix("db=") { return String(item) }
            if let equals = item.firstIndex(of: "=") { return item[...equals] + "***" }
            return "***"
        }
        return text[...question] + items.joined(separator: "&")
    }

    private static let knownSchemes: Set<String> = [
        "redis", "rediss", "redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster", "unix",
    ]

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// "redis://host" as ("redis", "host"); nil without "://". Searched in the UTF-8 bytes
    /// ("://" is ASCII, so the split is at character boundaries): no grapheme breaking on
    /// the way to the first request.
    private static func splitScheme(_ url: String) -> (String, String)? {
        let bytes = Array(url.utf8)
        guard bytes.count >= 3 else { return nil }
        for index in 0...(bytes.count - 3)
        where bytes[index] == UInt8(ascii: ":") && bytes[index + 1] == UInt8(ascii: "/") && bytes[index + 2] == UInt8(ascii: "/") {
            return (String(decoding: bytes[..<index], as: UTF8.self), String(decoding: bytes[(index + 3)...], as: UTF8.self))
        }
        return nil
    }
}
