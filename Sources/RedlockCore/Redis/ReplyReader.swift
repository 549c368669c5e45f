import CHiredis

/// hiredis's incremental RESP parser: feed it bytes as they arrive, take whole replies out.
/// The `redisReader` pointer lives exactly as long as this object.
public final class ReplyReader {
    private let reader: UnsafeMutablePointer<redisReader>

    public init() {
        guard let reader = redisReaderCreate() else { fatalError("redlock: out of memory creating a reply reader") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    public func feed(_ bytes: [UInt8]) throws(RedisError) {
        guard !bytes.isEmpty else { return }
        let status = bytes.withUnsafeBytes { raw in
            redisReaderFeed(reader, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        if status != REDIS_OK { throw .protocolViolation(readerError) }
    }

    /// The next whole reply, or nil when more bytes are needed.
    public func next() throws(RedisError) -> Reply? {
        var raw: UnsafeMutableRawPointer?
        if redisReaderGetReply(reader, &raw) != REDIS_OK || chiredis_reader_failed(reader) != 0 {
            throw .protocolViolation(readerError)
        }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return Reply(copying: raw.assumingMemoryBound(to: redisReply.self))
    }

    private var readerError: String {
        let text = String(cString: chiredis_reader_error(reader))
        return text.isEmpty ? "reply is not RESP" : text.lowercasedFirstLetter
    }
}

extension Reply {
    /// Copies hiredis's reply tree into Swift values.
    init(copying pointer: UnsafePointer<redisReply>) {
        let reply = pointer.pointee
        func bytes() -> [UInt8] {
            guard let str = reply.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: Int(reply.len)))
        }
        switch reply.type {
        case REDIS_REPLY_STATUS: self = .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: self = .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: self = .integer(Int64(reply.integer))
        case REDIS_REPLY_STRING: self = .bulk(bytes())
        case REDIS_REPLY_ARRAY:
            var items: [Reply] = []
            items.reserveCapacity(Int(reply.elements))
            for index in 0..<Int(reply.elements) {
                if let element = reply.element[index] { items.append(Reply(copying: element)) } else { items.append(.null) }
            }
            self = .array(items)
        default: self = .null
        }
    }
}
