import CHiredis
import Testing
@testable import RedlockCore

/// Commands are written in RESP by redlock itself (it is on every run's way to the first
/// request); hiredis's formatter is the reference they are checked against.
@Suite struct CommandEncodingTests {
    static let vectors: [[[UInt8]]] = [
        [Array("PING".utf8)],
        [Array("INFO".utf8), Array("server".utf8)],
        [Array("SET".utf8), [], Array("".utf8)],
        [Array("EVALSHA".utf8), Array(repeating: UInt8(ascii: "a"), count: 40), Array("2".utf8), [0, 13, 10, 255], Array("k y\r\n".utf8)],
        [Array("SET".utf8), Array(repeating: 0x7F, count: 100_000)],
        (0..<12).map { Array("argument \($0)".utf8) },
        [Array("X".utf8)] + (0..<1000).map { _ in [UInt8(ascii: "*")] },
    ]

    @Test(arguments: vectors.indices)
    func encodingIsHiredisFormat(index: Int) {
        let arguments = Self.vectors[index]
        #expect(Command(arguments: arguments).encoded == Self.hiredisFormat(arguments))
    }

    static func hiredisFormat(_ arguments: [[UInt8]]) -> [UInt8] {
        var lengths = arguments.map { $0.count }
        let storage = arguments.map { argument -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, argument.count))
            argument.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress { UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: bytes.count) }
            }
            return pointer
        }
        defer { storage.forEach { $0.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = storage.map { UnsafePointer($0) }
        var target: UnsafeMutablePointer<CChar>?
        let length = redisFormatCommandArgv(&target, Int32(pointers.count), &pointers, &lengths)
        guard length > 0, let target else { return [] }
        defer { redisFreeCommand(target) }
        return Array(UnsafeRawBufferPointer(start: target, count: Int(length)))
    }
}
