import CHiredis

/// hiredis's incremental RESP parser: feed it bytes as they arrive, take whole replies out.
/// The `redisReader` pointer lives exactly as long as this object.
///
/// A reply may take at most `maximumReplySize` bytes on the wire. hiredis buffers a bulk
/// string until it is whole, whatever length its header announces: a server answering
/// `$1073741824` and a stream of bytes took redlock past 1 GiB of memory. No reply redlock
/// asks for comes near the cap (the largest are SCAN pages and INFO, a few KiB). Nor may
/// a reply make more than `maximumReplyObjects` values: an array of small elements costs
/// far more memory than its bytes (a 1 MiB array of integers took redlock to 29 MiB).
public final class ReplyReader {
    public static let maximumReplySize = 1 << 20
    public static let maximumReplyObjects = 1 << 16

    private let reader: UnsafeMutablePointer<redisReader>
    /// Bytes fed so far, and how many of them the replies taken out so far were made of:
    /// the difference is the reply being read (plus what follows it in the last read).
    private var fed = 0
    private var taken = 0

    public init() {
        guard let reader = chiredis_reader_create(Self.maximumReplyObjects) else { fatalError("redlock: out of memory creating a reply reader") }
        self.reader = reader
    }

    deinit { chiredis_reader_free(reader) }

    public func feed(_ bytes: [UInt8]) throws(RedisError) {
        guard !bytes.isEmpty else { return }
        let status = bytes.withUnsafeBytes { raw in
            redisReaderFeed(reader, raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
        }
        if status != REDIS_OK { throw .protocolViolation(readerError) }
        fed += bytes.count
    }

    /// The next whole reply, or nil when more bytes are needed.
    public func next() throws(RedisError) -> Reply? {
        var raw: UnsafeMutableRawPointer?
        if redisReaderGetReply(reader, &raw) != REDIS_OK || chiredis_reader_failed(reader) != 0 {
            if chiredis_reader_over_budget(reader) != 0 { throw Self.tooManyObjects }
            throw .protocolViolation(readerError)
        }
        // What hiredis holds unparsed follows the reply just taken (or is the reply to come).
        let unparsed = reader.pointee.len - reader.pointee.pos
        let end = fed - unparsed
        guard let raw else {
            if fed - taken > Self.maximumReplySize { throw Self.tooLarge }
            return nil
        }
        defer { freeReplyObject(raw) }
        if end - taken > Self.maximumReplySize { throw Self.tooLarge }
        taken = end
        chiredis_reader_reply_taken(reader)
        return Reply(copying: raw.assumingMemoryBound(to: redisReply.self))
    }

    private static let tooLarge = RedisError.protocolViolation("a reply larger than 1 MiB (redlock asks for none that large)")
    private static let tooManyObjects = RedisError.protocolViolation("a reply of more than 65536 values (redlock asks for none that large)")

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
