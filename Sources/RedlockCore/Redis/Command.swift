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

    /// The command in RESP: `*N`, then `$LENGTH` and the bytes of each argument, every line
    /// ending in CRLF (what hiredis's `redisFormatCommandArgv` writes; CommandEncodingTests
    /// checks them against it). Written here rather than by hiredis: every run encodes its
    /// first requests on the way to the lock, and the C call needed an array of pointers and
    /// a copy in and out (27 K more instructions, of 0.88 M for `run KEY -- true`).
    private static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var size = 16
        for argument in arguments { size += argument.count + 16 }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(size)
        appendLine(UInt8(ascii: "*"), arguments.count, to: &encoded)
        for argument in arguments {
            appendLine(UInt8(ascii: "$"), argument.count, to: &encoded)
            encoded += argument
            encoded.append(UInt8(ascii: "\r"))
            encoded.append(UInt8(ascii: "\n"))
        }
        return encoded
    }

    /// `kind`, `number` in decimal, CRLF.
    private static func appendLine(_ kind: UInt8, _ number: Int, to encoded: inout [UInt8]) {
        encoded.append(kind)
        let start = encoded.count
        var rest = number
        repeat {
            encoded.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        encoded[start...].reverse()
        encoded.append(UInt8(ascii: "\r"))
        encoded.append(UInt8(ascii: "\n"))
    }
}
