// The decoded form of one RESP2 reply, as seen by the tests' independent Redis client.

/// One RESP2 reply. Error replies are values, not thrown errors, so a test can assert on
/// exactly what the server answered.
enum RESPValue: Equatable, Sendable, CustomStringConvertible {
    /// `+OK`
    case simple(String)
    /// `-ERR ...` (the text after the dash)
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo` — raw bytes, because values need not be UTF-8.
    case bulk([UInt8])
    /// `$-1` or `*-1`
    case null
    /// `*2\r\n...`
    case array([RESPValue])

    /// Convenience for building a bulk value from text in expectations.
    static func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }

    /// The text of a simple string or a bulk string (bulk bytes decoded as UTF-8, invalid
    /// sequences replaced); nil for every other kind of reply.
    var string: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        default: return nil
        }
    }

    /// The value of an integer reply; nil for every other kind of reply.
    var int: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    /// The raw bytes of a bulk string; nil for every other kind of reply.
    var bytes: [UInt8]? {
        if case .bulk(let b) = self { return b }
        return nil
    }

    /// The elements of an array reply; nil for every other kind of reply.
    var elements: [RESPValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The message of an error reply (e.g. `"NOAUTH Authentication required."`).
    var errorMessage: String? {
        if case .error(let e) = self { return e }
        return nil
    }

    var isNull: Bool { self == .null }
    var isError: Bool { errorMessage != nil }

    var description: String {
        switch self {
        case .simple(let s): return "+\(s)"
        case .error(let e): return "-\(e)"
        case .integer(let i): return ":\(i)"
        case .bulk(let b): return "$\(String(decoding: b, as: UTF8.self).debugDescription)"
        case .null: return "(nil)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
