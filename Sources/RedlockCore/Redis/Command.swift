import CHiredis

/// One Redis command as its argument vector. Arguments are bytes, sent with explicit
/// lengths, so keys and values with spaces, newlines or any byte at all are safe: no
/// command is ever built by formatting a string.
public struct Command: Sendable, Equatable {
    public let arguments: [[UInt8]]
    /// The command in RESP, encoded once: a round sends the same command to every instance.
    public let encoded: [UInt8]

    public init(arguments: [[UInt8]]) {
        precondition(!arguments.isEmpty, "a command needs a name")
        self.arguments = arguments
        encoded = Self.encode(arguments)
    }

    public init(_ arguments: String...) {
        self.init(arguments: arguments.map { Array($0.utf8) })
    }

    public init(_ name: String, _ rest: [[UInt8]]) {
        self.init(arguments: [Array(name.utf8)] + rest)
    }

    public var name: String { String(decoding: arguments[0], as: UTF8.self).uppercased() }

    /// The command in RESP, as hiredis's `redisFormatCommandArgv` writes it.
    private static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        // Every argument back to back in one buffer (and a byte more, so that it is never
        // empty), each passed to hiredis as a pointer into it with its length.
        var joined: [UInt8] = []
        joined.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        for argument in arguments { joined += argument }
        joined.append(0)
        var lengths = arguments.map { $0.count }
        return joined.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(arguments.count)
            var offset = 0
            for length in lengths {
                pointers.append(base + offset)
                offset += length
            }
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(pointers.count), &pointers, &lengths)
            guard length > 0, let target else { fatalError("redlock: hiredis could not format a command (out of memory)") }
            defer { redisFreeCommand(target) }
            return Array(UnsafeRawBufferPointer(start: target, count: Int(length)))
        }
    }
}
