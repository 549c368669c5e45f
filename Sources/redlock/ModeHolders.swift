import RedlockCore

/// `inspect`'s list of every holder of a key in any mode (each shared holder, each slot),
/// grouped over the instances: one row per holder, with how many instances hold it.
enum ModeHolders {
    struct Row {
        var role: Holding.Role
        /// The value as the first of its instances reports it.
        var value: [UInt8]
        var instances: Int
        var remaining: Duration?
    }

    /// The holders of `state`, shared ones and slots (in slot order); empty for a key held
    /// only exclusive (its headline says everything).
    static func rows(_ state: KeyState) -> [Row] {
        var rows: [Row] = []
        for instance in state.instances {
            guard case let .held(holdings) = instance else { continue }
            for holding in holdings where holding.role != .exclusive {
                let identity = KeyState.identity(of: holding.value)
                if let at = rows.firstIndex(where: { $0.role == holding.role && KeyState.identity(of: $0.value) == identity }) {
                    rows[at].instances += 1
                    if let left = holding.remaining { rows[at].remaining = min(rows[at].remaining ?? left, left) }
                } else {
                    rows.append(Row(role: holding.role, value: holding.value, instances: 1, remaining: holding.remaining))
                }
            }
        }
        return rows.sorted { label($0.role) < label($1.role) }
    }

    /// "shared", "slot 2".
    static func label(_ role: Holding.Role) -> String {
        switch role {
        case .exclusive: return "exclusive"
        case .shared: return "shared"
        case let .slot(name): return "slot " + TerminalText.escaped(bytes: name)
        }
    }

    /// "  shared: token T, fencing token 7, on 3 of 3, ttl 27s, by web-3 pid 42 (deploy) for
    /// 3s": the holder last, where a long line is cut.
    static func lines(_ state: KeyState) -> [String] {
        rows(state).map { row in
            var text = "  \(label(row.role)):"
            if let value = LockValue.decode(row.value) {
                text += " token \(value.token),"
                if let fence = value.fence { text += " fencing token \(fence)," }
            }
            text += " on \(row.instances) of \(state.quorum.instances)"
            if let left = row.remaining { text += ", ttl " + DurationSyntax.formatRough(left) }
            return text + ", by " + InstanceStateText.holder(row.value)
        }
    }

    static func json(_ state: KeyState) -> JSONValue {
        .array(rows(state).map { row in
            let value = LockValue.decode(row.value)
            var slot: JSONValue = .null
            if case let .slot(name) = row.role { slot = .string(TerminalText.escaped(bytes: name)) }
            return .object([
                ("mode", .string(row.role == .shared ? "shared" : "slot")),
                ("slot", slot),
                ("host", .optional(value?.holder.host)),
                ("pid", .optional(value.map { Int64($0.holder.pid) })),
                ("command", .optional(value?.holder.command)),
                ("token", .optional(value?.token)),
                ("fencing_token", .optional(value?.fence)),
                ("instances", .integer(Int64(row.instances))),
                ("ttl_ms", .optional(row.remaining?.milliseconds)),
            ])
        })
    }
}
