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
