import Glibc

/// The `field:value` lines of an INFO reply, read field by field when asked.
///
/// Every voting connection's handshake asks INFO server replication (run_id for one server
/// one vote, the uptime for --restart-grace, the role: a replica never votes) and reads a
/// few of its fifty fields (`forEachField`, in one pass). Splitting the whole text
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

    /// Each `field:value` line's field and value, in order, until `visit` returns false:
    /// one pass that finds lines with memchr and copies nothing (the subscript scans the
    /// text again for every field). The handshake reads a few fields of every connection's
    /// INFO server replication, the role among the last lines: a few thousand instructions
    /// (callgrind), less than two subscript lookups.
    public func forEachField(_ visit: (_ field: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) -> Bool) {
        bytes.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress else { return }
            var start = 0
            while start < text.count {
                let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), text.count - start)
                var end = newline.map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? text.count
                let next = end + 1
                if end > start && base[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if let found = memchr(base + start, Int32(UInt8(ascii: ":")), end - start) {
                    let colon = UnsafePointer(found.assumingMemoryBound(to: UInt8.self)) - base
                    let field = UnsafeBufferPointer(start: base + start, count: colon - start)
                    guard visit(field, UnsafeBufferPointer(start: base + colon + 1, count: end - colon - 1)) else { return }
                }
                start = next
            }
        }
    }

    /// Whether `field` (from `forEachField`) is `name`.
    public static func field(_ field: UnsafeBufferPointer<UInt8>, is name: StaticString) -> Bool {
        guard field.count == name.utf8CodeUnitCount, let bytes = field.baseAddress else { return false }
        return memcmp(bytes, name.utf8Start, field.count) == 0
    }
}
