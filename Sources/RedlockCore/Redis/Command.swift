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
        // Keep every argument's storage alive while hiredis reads the pointers.
        let storage = arguments.map { $0.isEmpty ? [UInt8(0)] : $0 }
        let lengths = arguments.map { $0.count }
        return withPointers(to: storage[...]) { argumentPointers in
            var pointers = argumentPointers
            var target: UnsafeMutablePointer<CChar>?
            let length = pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { lens in
                    redisFormatCommandArgv(&target, Int32(argv.count), argv.baseAddress, lens.baseAddress)
                }
            }
            guard length > 0, let target else { fatalError("redlock: hiredis could not format a command (out of memory)") }
            defer { redisFreeCommand(target) }
            return Array(UnsafeRawBufferPointer(start: target, count: Int(length)))
        }
    }
}

/// Calls `body` with a C pointer to every element of `buffers`, valid only inside `body`.
private func withPointers<R>(
    to buffers: ArraySlice<[UInt8]>,
    _ pointers: [UnsafePointer<CChar>?] = [],
    _ body: ([UnsafePointer<CChar>?]) -> R
) -> R {
    guard let first = buffers.first else { return body(pointers) }
    return first.withUnsafeBufferPointer { bytes in
        bytes.withMemoryRebound(to: CChar.self) { chars in
            withPointers(to: buffers.dropFirst(), pointers + [chars.baseAddress], body)
        }
    }
}
