import Glibc
import RedlockCore

/// Settings shared by every command: flags over the environment over defaults.
struct Config {
    let endpoints: [Endpoint]
    let connectTimeout: Duration
    let operationTimeout: Duration
    let prefix: String
    /// `--restart-grace`: votes of instances up for less than this do not count.
    let restartGrace: Duration
    /// The TLS settings, loaded, when some instance is `rediss://`.
    let tls: TLSContext?
    let console: Console

    /// The environment as redlock reads it; a parameter so tests can pass their own.
    typealias Environment = (String) -> String?

    /// REDLOCK_URLS's entries: separated by white space, or by a comma that the next URL's
    /// scheme follows ("redis://a:1,redis://b:2"). Any other comma belongs to the URL it is
    /// in: a Sentinel or Cluster URL's host list ("redis+sentinel://s1:26379,s2:26379/m")
    /// was cut there and refused.
    static func splitURLList(_ list: String) -> [String] {
        var entries: [String] = []
        for word in list.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            var current = ""
            for piece in word.split(separator: ",", omittingEmptySubsequences: false) {
                if current.isEmpty {
                    current = String(piece)
                } else if startsWithScheme(piece) {
                    entries.append(current)
                    current = String(piece)
                } else {
                    current += "," + piece
                }
            }
            entries.append(current)
        }
        return entries.filter { !$0.isEmpty && $0 != "," }
    }

    /// Whether `text` starts as a URL does: letters, digits, '+', '-' or '.', then "://"
    /// (or "unix:").
    private static func startsWithScheme(_ text: Substring) -> Bool {
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex else { return text.isEmpty }
        let scheme = text[..<colon]
        guard scheme.first!.isLetter, scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) else { return false }
        return text[colon...].hasPrefix("://") || scheme.lowercased() == "unix"
    }

    /// The variables whose values are read as text (KEY, TOKEN and SLOT, inherited by a
    /// nested run, are bytes and are not among them).
    static let textVariables = ["REDLOCK_URLS", "REDLOCK_PASSWORD", "REDLOCK_PREFIX", "REDLOCK_RESTART_GRACE", "REDLOCK_TLS_INSECURE",
                                "REDLOCK_TLS_CA_CERT", "REDLOCK_TLS_CERT", "REDLOCK_TLS_KEY", "REDLOCK_TLS_SERVER_NAME"]

    /// A text variable of this process's environment that is not UTF-8 is refused, as an
    /// option value is (Parser): read with U+FFFD in place of its bytes, two prefixes
    /// named one lock. Checked against the real environment, whatever `environment` is.
    private static func refuseVariablesThatAreNotText(_ environment: Environment) throws(Failure) {
        for name in textVariables where environment(name) != nil {
            guard let bytes = ProcessIdentity.environmentValueBytes(name), String(validating: bytes, as: UTF8.self) == nil else { continue }
            throw Failure(.configuration, "\(name) is not UTF-8 text (its value is read as text)")
        }
    }

    static func resolve(_ invocation: Invocation, environment: Environment, console: Console) throws(Failure) -> Config {
        try refuseVariablesThatAreNotText(environment)
        var urls = invocation.all("redis")
        /// Set when the URLs came from REDLOCK_URLS and some of them carry credentials: a
        /// password with a space or comma is then cut in two, and the piece before the '@'
        /// must not be quoted.
        var splitCredentials = false
        if urls.isEmpty, let list = environment("REDLOCK_URLS") {
            urls = splitURLList(list)
            if urls.isEmpty { throw Failure(.configuration, "REDLOCK_URLS is set but names no instance") }
            splitCredentials = urls.count > 1 && list.contains("@")
        }
        if urls.isEmpty { urls = [Endpoint.defaultURL] }

        var password: String?
        if let file = invocation.last("password-file") {
            password = try readPassword(from: file, console: console)
        } else if let value = environment("REDLOCK_PASSWORD"), !value.isEmpty {
            password = value
        }

        var endpoints: [Endpoint] = []
        var seen: Set<String> = []
        for (index, url) in urls.enumerated() {
            var endpoint: Endpoint
            do {
                endpoint = try Endpoint.parse(url)
            } catch {
                if splitCredentials && !url.contains("@") {
                    throw Failure(.configuration, "REDLOCK_URLS: entry \(index + 1) of \(urls.count) is not a Redis URL (URLs are separated by white space, or by a comma before the next URL's scheme: percent-encode white space in a password, as %20)")
                }
                throw Failure(.configuration, error.description)
            }
            if endpoint.password == nil, let password { endpoint.password = password }
            // One server, one vote: the same address twice is a mistake in the configuration.
            guard seen.insert(endpoint.identity).inserted else {
                throw Failure(.configuration, "instance \(endpoint) is listed twice (one server is one vote)")
            }
            endpoints.append(endpoint)
        }

        let tls = try tlsContext(invocation, environment: environment, endpoints: endpoints, console: console)

        return Config(
            endpoints: endpoints,
            connectTimeout: try positiveDuration(invocation, "connect-timeout", default: .milliseconds(500)),
            operationTimeout: try positiveDuration(invocation, "op-timeout", default: .milliseconds(250)),
            prefix: invocation.last("prefix") ?? environment("REDLOCK_PREFIX") ?? "",
            restartGrace: try restartGrace(invocation, environment: environment),
            tls: tls,
            console: console)
    }

    /// The Redis key for a lock name: exactly KEY, after `--prefix`.
    func redisKey(_ name: String) -> [UInt8] { Array((prefix + name).utf8) }

    /// The same for KEY as given on the command line: its bytes, unchanged.
    func redisKey(_ name: [UInt8]) -> [UInt8] { Array(prefix.utf8) + name }

    func makeRedlock(kind: any LockKind = Exclusive()) -> Redlock {
        let instances = InstanceSet(endpoints: endpoints, connectTimeout: connectTimeout, operationTimeout: operationTimeout, tracksUptime: restartGrace > .zero, tls: tls)
        if console.verbose {
            let console = console
            instances.observer = { report in
                let parts = report.outcomes.map { outcome in
                    let elapsed = DurationSyntax.formatPrecise(outcome.elapsed)
                    switch outcome.error {
                    case nil: return "\(outcome.endpoint) ok in \(elapsed)"
                    // Not a failure of the instance: the round went on without its answer.
                    case let .notWaitedFor(reason)?: return "\(outcome.endpoint) not waited for (\(reason)) after \(elapsed)"
                    case let error?: return "\(outcome.endpoint) failed (\(error.withFlagHint)) in \(elapsed)"
                    }
                }
                // A round that asked nobody (every instance already failed) says nothing.
                if !parts.isEmpty { console.log("\(report.label): " + parts.joined(separator: "; ")) }
            }
        }
        return Redlock(instances: instances, kind: kind, restartGrace: restartGrace)
    }

    /// `--tls-*` over `REDLOCK_TLS_*`, loaded once (a file that cannot be used is a
    /// configuration error before any connection). Nothing is loaded without a rediss:// URL.
    private static func tlsContext(_ invocation: Invocation, environment: Environment, endpoints: [Endpoint], console: Console) throws(Failure) -> TLSContext? {
        func setting(_ long: String, _ variable: String) -> String? {
            if let value = invocation.last(long) { return value }
            guard let value = environment(variable), !value.isEmpty else { return nil }
            return value
        }
        var insecure = invocation.has("tls-insecure")
        if !insecure, let value = environment("REDLOCK_TLS_INSECURE"), !value.isEmpty {
            switch value.lowercased() {
            case "1", "true", "yes", "on": insecure = true
            case "0", "false", "no", "off": insecure = false
            default: throw Failure(.configuration, "REDLOCK_TLS_INSECURE must be 1 or 0, not '\(value)'")
            }
        }
        let configuration = TLSConfiguration(
            caCertificateFile: setting("tls-ca-cert", "REDLOCK_TLS_CA_CERT"),
            certificateFile: setting("tls-cert", "REDLOCK_TLS_CERT"),
            keyFile: setting("tls-key", "REDLOCK_TLS_KEY"),
            serverName: setting("tls-server-name", "REDLOCK_TLS_SERVER_NAME"),
            verifiesPeer: !insecure)
        let tlsEndpoints = endpoints.filter(\.usesTLS)
        guard !tlsEndpoints.isEmpty else { return nil }
        if insecure {
            console.warn("TLS verification is off (--tls-insecure): anyone on the path to \(tlsEndpoints.map(\.description).joined(separator: ", ")) can read and change what redlock sends")
        }
        do {
            return try TLSContext(configuration)
        } catch {
            throw Failure(.configuration, error.withFlagHint)
        }
    }

    private static func restartGrace(_ invocation: Invocation, environment: Environment) throws(Failure) -> Duration {
        if let value = try duration(invocation, "restart-grace") { return value }
        guard let text = environment("REDLOCK_RESTART_GRACE"), !text.isEmpty else { return .zero }
        guard let value = DurationSyntax.parse(text) else {
            throw Failure(.configuration, "bad duration '\(text)' in REDLOCK_RESTART_GRACE (use \(DurationSyntax.examples))")
        }
        return value
    }

    // MARK: - Option values

    static func duration(_ invocation: Invocation, _ long: String) throws(Failure) -> Duration? {
        guard let text = invocation.last(long) else { return nil }
        guard let value = DurationSyntax.parse(text) else {
            throw Failure.usage("bad duration '\(text)' for --\(long) (use \(DurationSyntax.examples))", command: invocation.command?.rawValue)
        }
        return value
    }

    /// Every duration and number option checked by its kind in the table, before anything
    /// asks for KEY: in `run --wait k -- true` the mistake is the duration 'k', not a
    /// missing KEY.
    static func checkValues(_ invocation: Invocation) throws(Failure) {
        for spec in OptionTable.all where invocation.has(spec.long) {
            switch spec.value {
            case .duration: _ = try duration(invocation, spec.long)
            case let .integer(range): _ = try integer(invocation, spec.long, in: range)
            default: break
            }
        }
    }

    /// The smallest `--ttl`, the same for every command.
    ///
    /// `run` renews the lease every TTL/3 and one renewal round may take `--op-timeout`: a
    /// TTL under 3 x op-timeout could lapse while its own renewal is still on the wire. And
    /// under 1s the clock-drift allowance, the kernel's scheduling and a cron host's load
    /// leave a lease that protects nothing. So: at least 1s, and at least 3 x --op-timeout.
    static func minimumTTL(_ invocation: Invocation) throws(Failure) -> Duration {
        let operation = try positiveDuration(invocation, "op-timeout", default: .milliseconds(250))
        return max(.seconds(1), operation * 3)
    }

    /// `--ttl` (default 30s), checked against `minimumTTL`.
    static func ttl(_ invocation: Invocation) throws(Failure) -> Duration {
        guard let value = try duration(invocation, "ttl") else { return .seconds(30) }
        let minimum = try minimumTTL(invocation)
        guard value >= minimum else {
            let why = minimum > .seconds(1) ? "3 x --op-timeout, so a renewal round fits" : "so a renewal round fits"
            throw Failure.usage("--ttl must be at least \(DurationSyntax.format(minimum)) (\(why)), not '\(invocation.last("ttl")!)'", command: invocation.command?.rawValue)
        }
        return value
    }

    static func positiveDuration(_ invocation: Invocation, _ long: String, default fallback: Duration) throws(Failure) -> Duration {
        guard let value = try duration(invocation, long) else { return fallback }
        guard value >= .milliseconds(1) else {
            throw Failure.usage("--\(long) must be at least 1ms, not '\(invocation.last(long)!)'", command: invocation.command?.rawValue)
        }
        return value
    }

    static func integer(_ invocation: Invocation, _ long: String, in range: ClosedRange<Int>) throws(Failure) -> Int? {
        guard let text = invocation.last(long) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw Failure.usage("--\(long) takes a number from \(range.lowerBound) to \(range.upperBound), not '\(text)'", command: invocation.command?.rawValue)
        }
        return value
    }

    /// The first line of `path`. A file that others may read gets a warning: it holds a secret.
    private static func readPassword(from path: String, console: Console) throws(Failure) -> String {
        let file: SmallFile
        do {
            file = try SmallFile(path: path)
        } catch {
            throw Failure(.configuration, "cannot read password file '\(path)': \(error)")
        }
        if file.isOpenToOthers {
            console.warn("password file '\(path)' can be read by other users (chmod 600 it)")
        }
        var line = file.bytes.prefix { $0 != UInt8(ascii: "\n") }
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard !line.isEmpty else { throw Failure(.configuration, "password file '\(path)' is empty") }
        return String(decoding: line, as: UTF8.self)
    }

}
