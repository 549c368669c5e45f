import Testing
@testable import RedlockCore

@Suite struct ClusterSlotTests {
    @Test func crc16AndHashTags() {
        #expect(ClusterSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(ClusterSlot.of(Array("foo".utf8)) == 12182)
        #expect(ClusterSlot.of(Array("{user1000}.following".utf8)) == ClusterSlot.of(Array("user1000".utf8)))
        #expect(ClusterSlot.hashed(Array("foo{}{bar}".utf8)) == Array("foo{}{bar}".utf8)[...])
        #expect(ClusterSlot.hashed(Array("foo{{bar}}zap".utf8)) == Array("{bar".utf8)[...])
        // A lock, its fencing counter: one slot, so one script can touch both.
        #expect(ClusterSlot.of(LockKeys.fenceKey(for: Array("deploy".utf8))) == ClusterSlot.of(Array("deploy".utf8)))
    }

    @Test func redirectsAndScanCursors() {
        let moved = ClusterLink.redirect(.error("MOVED 3999 127.0.0.1:6381"))
        #expect(moved?.slot == 3999 && moved?.node == HostPort(host: "127.0.0.1", port: 6381) && moved?.asking == false)
        #expect(ClusterLink.redirect(.error("ASK 1 [::1]:7000"))?.node == HostPort(host: "::1", port: 7000))
        #expect(ClusterLink.redirect(.error("ERR wrong")) == nil)
        #expect(ClusterLink.scanCursor(Command("SCAN", "0")) == (0, "0"))
        #expect(ClusterLink.scanCursor(Command("SCAN", "2:1536")) == (2, "1536"))
        #expect(ClusterLink.routingKey(Command("EVALSHA", "abc", "2", "k", "{k}:fence", "v")) == Array("k".utf8))
        #expect(ClusterLink.routingKey(Command("PING")) == nil)
    }

    @Test func clusterURLs() throws {
        let endpoint = try Endpoint.parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2")
        #expect(endpoint.address == .cluster(seeds: [HostPort(host: "10.0.0.1", port: 7000), HostPort(host: "10.0.0.2", port: 6379)]))
        #expect(endpoint.password == "pw")
        #expect(endpoint.description == "cluster 10.0.0.1:7000,10.0.0.2:6379")
        #expect(throws: EndpointError.self) { try Endpoint.parse("redis+cluster://h:1/2") }
        #expect(throws: EndpointError.self) { try Endpoint.parse("redis+cluster://") }
    }
}
