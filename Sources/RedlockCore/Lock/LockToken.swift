/// What proves ownership of a lock: the secret token, and the bytes every compare-and-extend
/// and compare-and-delete matches (`redlock1 <token> `). All that `extend` and `release`
/// need: a process that took the lock elsewhere (`redlock acquire`) knows only this.
public struct LockToken: Sendable, Equatable {
    public let token: String
    public let ownershipPrefix: [UInt8]

    public init(_ token: String) {
        self.token = token
        ownershipPrefix = Array("\(LockValue.marker) \(token) ".utf8)
    }

    /// A fresh token: 144 bits from the kernel's CSPRNG, base64url.
    public static func fresh() -> LockToken {
        LockToken(SecureRandom.urlSafeToken(byteCount: LockValue.tokenByteCount))
    }
}
