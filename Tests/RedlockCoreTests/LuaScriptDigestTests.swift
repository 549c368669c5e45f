import Foundation
import Testing
@testable import RedlockCore

/// Every Lua script carries its SHA1 written out in the source, so that no run hashes
/// scripts at start-up. A wrong digest would not break a lock (the NOSCRIPT fallback sends
/// the source with EVAL) but every request would then carry the whole script: these tests
/// keep each written digest equal to the script's.
@Suite struct LuaScriptDigestTests {
    /// Every script of the core. `everyScriptIsListed` checks that none is missing.
    static let scripts: [LuaScript] = [
        QueueScripts.acquire, QueueScripts.position, QueueScripts.leave, QueueScripts.list, QueueScripts.raiseMark,
        Exclusive.Scripts.raiseFence, Exclusive.Scripts.forceRelease, Exclusive.Scripts.extend,
        Exclusive.Scripts.release, Exclusive.Scripts.inspect, Exclusive.Scripts.claim, Exclusive.Scripts.withdraw,
        AnyHolder.Scripts.step, AnyHolder.Scripts.inspect,
        Shared.Scripts.acquire, Shared.Scripts.acquireExclusive,
        Slots.Scripts.probe, Slots.Scripts.acquire, Slots.Scripts.extend, Slots.Scripts.release,
        OnceMark.read, OnceMark.write, OwnershipCheck.holds,
    ]

    @Test(arguments: scripts.map(\.name))
    func writtenDigestIsTheScriptsSHA1(name: String) throws {
        let script = try #require(Self.scripts.first { $0.name == name })
        #expect(script.sha1 == SHA1.hexDigest(Array(script.source.utf8)), "write sha1: \"\(SHA1.hexDigest(Array(script.source.utf8)))\" for \(name)")
    }

    @Test func namesAreUnique() {
        #expect(Set(Self.scripts.map(\.name)).count == Self.scripts.count)
    }

    /// The list above against the sources: each `LuaScript(` in Sources/RedlockCore is one script.
    @Test func everyScriptIsListed() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/RedlockCore").standardized
        let files = try #require(FileManager.default.enumerator(at: core, includingPropertiesForKeys: nil))
        var definitions = 0
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            definitions += text.components(separatedBy: "LuaScript(\"").count - 1
        }
        #expect(definitions == Self.scripts.count)
    }
}
