/// A RESP2 reply, copied out of hiredis's `redisReply` at once so that no C memory outlives
/// the call that read it.
public enum Reply: Equatable, Sendable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8])
    case null
    case array([Reply])

    /// The reply as text, for bulk strings and status replies.
    public var text: String? {
        switch self {
        case let .bulk(bytes): return String(decoding: bytes, as: UTF8.self)
        case let .status(text): return text
        default: return nil
        }
    }

    /// The message of an error reply.
    public var errorMessage: String? {
        if case let .error(message) = self { return message }
        return nil
    }

    public var integer: Int64? {
        if case let .integer(value) = self { return value }
        return nil
    }

    public var elements: [Reply]? {
        if case let .array(items) = self { return items }
        return nil
    }
}

extension Reply: CustomStringConvertible {
    /// A short rendering for "unexpected reply" messages: what a server sent, at most 64
    /// bytes of a string and 4 elements of an array, lock tokens hidden (never a dump of
    /// the enum with its bytes as numbers).
    public var description: String {
        switch self {
        case let .status(text): return "+" + RedisError.hidingLockTokens(Self.cut(text))
        case let .error(text): return "-" + RedisError.hidingLockTokens(Self.cut(text))
        case let .integer(value): return ":" + String(value)
        case let .bulk(bytes): return "\"" + RedisError.hidingLockTokens(Self.cut(String(decoding: bytes, as: UTF8.self))) + "\""
        case .null: return "(nil)"
        case let .array(items):
            let shown = items.prefix(4).map(\.description)
            return "[" + shown.joined(separator: ", ") + (items.count > 4 ? ", ... (\(items.count) in all)" : "") + "]"
        }
    }

    private static func cut(_ text: String) -> String {
        text.utf8.count <= 64 ? text : String(decoding: text.utf8.prefix(64), as: UTF8.self) + "..."
    }
}
