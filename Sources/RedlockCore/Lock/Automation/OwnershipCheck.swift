/// Whether a token still holds a key on a quorum, in one read-only round: what lets a
/// nested `redlock run` (inside COMMAND, same KEY, the inherited REDLOCK_TOKEN) run at once
/// instead of waiting for its own parent.
///
/// A token proves ownership exactly as extend and release check it: the stored value starts
/// with `redlock1 <token> `, on a quorum. A forged token matches nothing; a stale one (its
/// lease expired or was released) no longer stands on a quorum. Either way the nested run
/// takes the lock the ordinary way.
enum OwnershipCheck {
    /// KEYS[1] = key, ARGV[1] = ownership prefix. Read-only: 1 where the value starts with
    /// it, else 0.
    static let holds = LuaScript("holds", sha1: "8578d0f98a0525bfe4a02d845e934286c8b12c59", """
        local value = redis.call('GET', KEYS[1])
        if value and string.sub(value, 1, #ARGV[1]) == ARGV[1] then return 1 end
        return 0
        """)
}

extension Redlock {
    /// Whether `token` holds `key` on a quorum now. False when fewer than a quorum confirm it,
    /// whether because it is not held or because instances did not answer.
    public func isHeld(key: [UInt8], by token: LockToken) -> Bool {
        let quorum = self.quorum
        let ballot = vote(ScriptCall(OwnershipCheck.holds, keys: [key], arguments: [token.ownershipPrefix]), decode: kind.stepVerdict) {
            quorum.release($0) != .undecided
        }
        return quorum.isReached(by: ballot.granted)
    }
}
