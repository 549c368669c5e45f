import Glibc

/// The `field:value` lines of an INFO reply, read field by field when asked.
///
/// Every voting connection's handshake asks INFO server replication (run_id for one server
/// one vote, the uptime for --restart-grace, the role: a replica never votes) and reads a
/// few of its fifty fields (`values(of:)`, in one pass). Splitting the whole text
/// into a dictionary of Strings cost half of the instructions of a `run KEY -- true` on
/// three instances (callgrind: 1.3 of 2.65 million, most of it String splitting on first
/// use); scanning the bytes for the fields asked costs a few thousand.
public struct ServerInfo: Sendable {
    private let bytes: [UInt8]

    public init(_ text: String) { bytes = Array(text.utf8) }

    /// INFO's reply as it came (no String made and taken apart again).
    public init(bytes: [UInt8]) { self.bytes = bytes }

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

    /// The values of `names` (each nil when INFO has no such field) in one pass over the
    /// text, where the subscript scans it again for every field: the handshake of every
    /// connection reads up to six fields of INFO server replication, the role among the
    /// last. Lines are found with memchr, and only their starts compared: a few thousand
    /// instructions for the whole reply (callgrind), less than two subscript lookups.
    public func values(of names: [String]) -> [String?] {
        let keys = names.map { Array($0.utf8) }
        var found = [String?](repeating: nil, count: keys.count)
        var missing = keys.count
        bytes.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress else { return }
            var start = 0
            while start < text.count && missing > 0 {
                let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), text.count - start)
                var end = newline.map { UnsafeRawPointer($0) - UnsafeRawPointer(base) } ?? text.count
                let next = end + 1
                if end > start && base[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                for index in keys.indices where found[index] == nil {
                    let count = keys[index].count
                    guard count < end - start, base[start + count] == UInt8(ascii: ":"),
                          keys[index].withUnsafeBufferPointer({ key in key.baseAddress.map { memcmp(base + start, $0, count) == 0 } ?? true }) else { continue }
                    found[index] = String(decoding: UnsafeBufferPointer(start: base + start + count + 1, count: end - start - count - 1), as: UTF8.self)
                    missing -= 1
                }
                start = next
            }
        }
        return found
    }
}
