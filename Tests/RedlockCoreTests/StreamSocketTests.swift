import Glibc
import RedlockCore
import Testing

/// Address literals are parsed without the resolver (inet_pton), to the very socket address
/// getaddrinfo(AI_NUMERICHOST) gives; names are left to the host name lookup.
@Suite struct StreamSocketTests {
    @Test(arguments: ["127.0.0.1", "10.1.2.3", "::1", "2001:db8::7", "::ffff:192.0.2.1", "fe80::1%1", "fe80::1%lo"])
    func aLiteralGivesGetaddrinfosAddress(_ host: String) throws {
        let address = try #require(StreamSocket.numericAddress(host: host, port: 6380))
        let expected = try #require(Self.resolved(host, port: 6380))
        #expect(address.family == expected.family)
        #expect(address.bytes == expected.bytes)
    }

    @Test(arguments: ["localhost", "redis.example.com", "", "::1%", "fe80::1%no-such-interface", "[::1]"])
    func anythingElseIsNotALiteral(_ host: String) {
        #expect(StreamSocket.numericAddress(host: host, port: 6379) == nil)
    }

    private static func resolved(_ host: String, port: UInt16) -> (family: Int32, bytes: [UInt8])? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        return (first.pointee.ai_family, Array(UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen))))
    }
}
