import RedlockCore

/// The words `inspect` and `force-release` use for one instance's view of a key.
enum InstanceStateText {
    /// held, free, other, unreachable or error (the JSON `state` values) for instance
    /// `index`: "held" where the holder the headline names stands, "other" elsewhere.
    static func state(of index: Int, in key: KeyState) -> String {
        switch key.instances[index] {
        case .free: return "free"
        case .held: return key.holdsLeadingHolder(index) ? "held" : "other"
        case let .failed(error): return isUnreachable(error) ? "unreachable" : "error"
        }
    }

    /// Whether the instance could not be reached at all (as opposed to answering badly).
    static func isUnreachable(_ error: RedisError) -> Bool {
        switch error {
        case .connectionFailed, .timedOut, .notWaitedFor, .connectionClosed: return true
        default: return false
        }
    }

    /// Whether the holder recorded in `value` has ended: only known for a holder on this
    /// host (same host name), whose pid no longer exists. A key still held then is kept by
    /// `--min-hold` (run extends the key by the time left when its COMMAND ends early) or
    /// was left by a holder that could not release it; either way it stays until its TTL
    /// runs out. On another host nothing is claimed. Assumes a host name names one pid
    /// namespace (containers sharing a host name would have to differ).
    static func holderEnded(_ value: LockValue) -> Bool? {
        guard value.holder.host == ProcessIdentity.hostName, value.holder.pid > 0 else { return nil }
        return ProcessIdentity.isGone(value.holder.pid)
    }

    /// "web-3 pid 4242 (deploy) for 2m13s", or "another client" for a foreign value.
    static func holder(_ raw: [UInt8]) -> String {
        guard let value = LockValue.decode(raw) else { return "another client" }
        // Host and user come from whoever wrote the value: escaped, so they cannot forge a row.
        var text = "\(TerminalText.escaped(value.holder.host)) pid \(value.holder.pid)"
        if !value.holder.user.isEmpty { text += " (\(TerminalText.escaped(value.holder.user)))" }
        let age = WallClock.millisecondsSinceEpoch() - value.holder.acquiredAtMilliseconds
        if value.holder.acquiredAtMilliseconds > 0 && age >= 0 { text += " for \(DurationSyntax.formatRough(.milliseconds(age)))" }
        if holderEnded(value) == true { text += ", ended" }
        return text
    }

    /// Cuts text to `limit` characters with an ellipsis, for table cells.
    static func clipped(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
