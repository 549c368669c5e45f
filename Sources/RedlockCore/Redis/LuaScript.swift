/// A Lua script, run by SHA1 (EVALSHA): loaded first (SCRIPT LOAD, in the same write) on a
/// connection's first request, which may reach a server that never saw it, and sent whole
/// (EVAL) where an instance answers that it has not cached it. See `InstanceSet.evaluate`.
public struct LuaScript: Sendable {
    /// What it does, for `-v` logs ("acquire", "extend").
    public let name: String
    public let sha1: String
    /// The script's text, made when it is sent whole (SCRIPT LOAD, EVAL): a request by
    /// SHA1 needs only `sha1`, and building the text (a few KB of interpolated Lua) on the
    /// way to a release or an acquire would put it on a hand-off's clock.
    private let makeSource: @Sendable () -> String
    public var source: String { makeSource() }

    /// `EVALSHA <sha1>`, the start of every request: made once.
    private let evalSHAPrefix: [[UInt8]]

    /// `sha1` is the source's SHA1, written out rather than computed: hashing the scripts a
    /// `run` uses cost about a quarter of its own instructions at start-up (0.33 M of 1.39 M).
    /// Debug builds check it here; LuaScriptDigestTests checks every script.
    public init(_ name: String, sha1: String, _ source: @autoclosure @escaping @Sendable () -> String) {
        assert(sha1 == SHA1.hexDigest(Array(source().utf8)), "LuaScript \(name): sha1 must be \(SHA1.hexDigest(Array(source().utf8)))")
        self.name = name
        makeSource = source
        self.sha1 = sha1
        evalSHAPrefix = [Array("EVALSHA".utf8), Array(sha1.utf8)]
    }

    func evalSHA(keys: [[UInt8]], arguments: [[UInt8]]) -> Command {
        Command(arguments: evalSHAPrefix + [Array(String(keys.count).utf8)] + keys + arguments)
    }

    /// `SCRIPT LOAD <source>`: caches the script on the server (its reply is the SHA1).
    var load: Command { Command("SCRIPT", [Array("LOAD".utf8), Array(source.utf8)]) }

    func eval(keys: [[UInt8]], arguments: [[UInt8]]) -> Command {
        Command("EVAL", [Array(source.utf8), Array(String(keys.count).utf8)] + keys + arguments)
    }
}
