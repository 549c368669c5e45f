/// The `field:value` lines of an INFO reply, read field by field when asked.
///
/// Every connection's handshake asks INFO server (run_id for one server one vote, the
/// uptime for --restart-grace) and reads two of its forty fields. Splitting the whole text
/// into a dictionary of Strings cost half of the instructions of a `run KEY -- true` on
/// three instances (callgrind: 1.3 of 2.65 million, most of it String splitting on first
/// use); scanning the bytes for the fields asked costs a few thousand.
public struct ServerInfo: Sendable {
    private let bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }

    /// The value of `name`, or nil when INFO has no such field.
    public subscript(_ name: String) -> String? {
        let key = Array(name.utf8) + [UInt8(ascii: ":")]
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") && bytes[end] != UInt8(ascii: "\r") { end += 1 }
            if end - start >= key.count && bytes[start..<(start + key.count)].elementsEqual(key) {
                return String(decoding: bytes[(start + key.count)..<end], as: UTF8.self)
            }
            start = end + 1
        }
        return nil
    }
}
