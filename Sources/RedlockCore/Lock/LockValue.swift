/// What redlock stores under a lock's key: a secret token, then who holds it.
///
///     redlock1 <token> host=web-3 pid=4242 user=deploy at=1764180000000 cmd=./deploy.sh%20prod
///
/// The token (144 bits from the kernel's CSPRNG, base64url) is what proves ownership: every
/// extend and release compares the stored value's prefix `redlock1 <token> ` first. The rest
/// is for people (`inspect`, the waiting line) and may be truncated; values are
/// percent-encoded so a field never contains a space.
public struct LockValue: Equatable, Sendable {
    public static let marker = "redlock1"
    public static let tokenByteCount = 18

    public let token: String
    public let holder: HolderInfo
    /// The fencing token the instance appended when it granted the lock (`fence=N`); nil in
    /// a value that is being sent, or one written before fencing existed.
    public let fence: Int64?
    /// The value as stored (without the fence, which the instance appends). Made once: every
    /// attempt of a waiting acquire sends it again.
    public let encoded: [UInt8]
    /// The token with the bytes every compare-and-extend and compare-and-delete matches.
    public let lockToken: LockToken

    public init(token: String, holder: HolderInfo, fence: Int64? = nil) {
        self.token = token
        self.holder = holder
        self.fence = fence
        lockToken = LockToken(token)
        encoded = Self.encode(token: token, holder: holder)
    }

    /// A new value with a fresh token for `holder`.
    public static func fresh(for holder: HolderInfo) -> LockValue {
        LockValue(token: LockToken.fresh().token, holder: holder)
    }

    /// Commands longer than this are cut in the stored value (it is shown, not executed).
    static let commandLimit = 256

    private static func encode(token: String, holder: HolderInfo) -> [UInt8] {
        // Cut on a byte boundary; a split character decodes as U+FFFD, which is harmless here.
        let command = String(decoding: holder.command.utf8.prefix(Self.commandLimit), as: UTF8.self)
        // One string built in place: `joined(separator:)` cost 0.1 M instructions of runtime
        // type lookups on its first use, and every acquire encodes a value.
        var text = marker + " " + token
        text += " host=" + Self.escape(holder.host)
        text += " pid=" + String(holder.pid)
        text += " user=" + Self.escape(holder.user)
        text += " at=" + String(holder.acquiredAtMilliseconds)
        text += " cmd=" + Self.escape(command)
        return Array(text.utf8)
    }

    /// Reads a value that redlock wrote; nil for anything else (another client's lock).
    public static func decode(_ bytes: [UInt8]) -> LockValue? {
        let text = String(decoding: bytes, as: UTF8.self)
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count >= 2, words[0] == Substring(marker), !words[1].isEmpty else { return nil }
        var holder = HolderInfo.unknown
        var fence: Int64?
        for word in words.dropFirst(2) {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let name = word[..<equals]
            let value = unescape(word[word.index(after: equals)...])
            switch name {
            case "host": holder.host = value
            case "pid": holder.pid = Int32(value) ?? 0
            case "user": holder.user = value
            case "at": holder.acquiredAtMilliseconds = Int64(value) ?? 0
            case "cmd": holder.command = value
            case "fence": fence = Int64(value)
            default: continue
            }
        }
        return LockValue(token: String(words[1]), holder: holder, fence: fence)
    }

    /// Percent-encodes spaces, control bytes and '%' so that a field is one word.
    static func escape(_ text: String) -> String {
        let bytes = PercentEncoding.encode(Array(text.utf8)) { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "%") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reverses `escape`; a field written by something else is taken as it stands.
    static func unescape(_ text: Substring) -> String {
        let raw = Array(text.utf8)
        return String(decoding: PercentEncoding.decode(raw) ?? raw, as: UTF8.self)
    }
}
