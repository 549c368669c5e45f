import RedlockCore

/// How the queue reads for people: the waiting line's "3rd in line, behind web-3 pid 4242",
/// and who a `--supersede` waiter gave way to.
enum QueueText {
    /// "1st", "2nd", "3rd", "11th", "22nd".
    static func ordinal(_ number: Int) -> String {
        let tens = number % 100
        if (11...13).contains(tens) { return "\(number)th" }
        switch number % 10 {
        case 1: return "\(number)st"
        case 2: return "\(number)nd"
        case 3: return "\(number)rd"
        default: return "\(number)th"
        }
    }

    /// "web-3 pid 4242 (deploy), order key 17": every byte from the server escaped.
    static func waiter(_ ticket: QueueTicket) -> String {
        var text = "\(TerminalText.escaped(ticket.holder.host)) pid \(ticket.holder.pid)"
        if !ticket.holder.user.isEmpty { text += " (\(TerminalText.escaped(ticket.holder.user)))" }
        if let key = ticket.orderKey { text += ", order key \(key)" }
        return text
    }

    /// "3rd in line, behind web-3 pid 4242 (deploy)" or "first in line".
    static func place(_ place: QueuePlace) -> String {
        guard place.position > 1 else { return "first in line" }
        var text = "\(ordinal(place.position)) in line"
        if let ahead = place.ahead { text += ", behind " + waiter(ahead) }
        return text
    }
}

extension QueueText {
    /// inspect's rows: "  queue:   2 waiting", then "    1. web-3 pid 4242 (deploy), order key 17, since ...".
    static func inspectLines(_ line: WaitingLine, instances: Int) -> [String] {
        // A queue that could not be read is not an empty one.
        let unread = line.unread.isEmpty ? [] : ["  queue:   not read on \(line.unread.count) of \(instances) instances (" + line.unread.map { TerminalText.escaped($0.withFlagHint) }.joined(separator: "; ") + ")"]
        guard !line.entries.isEmpty else { return unread }
        var lines = ["  queue:   \(line.entries.count) waiting"] + unread
        for (index, entry) in line.entries.enumerated() {
            var row = "    \(index + 1). " + waiter(entry.ticket) + ", since " + TimeFormat.rfc3339(millisecondsSinceEpoch: entry.ticket.joinedAtMilliseconds)
            if entry.instances < instances { row += " (on \(entry.instances) of \(instances) instances)" }
            lines.append(InstanceStateText.clipped(row, to: 400))
        }
        return lines
    }

    /// inspect --json's "queue": one object per waiter, in the order they will be served.
    static func json(_ line: WaitingLine) -> JSONValue {
        .array(line.entries.enumerated().map { index, entry in
            .object([
                ("position", .integer(Int64(index + 1))),
                ("host", .string(entry.ticket.holder.host)),
                ("pid", .integer(Int64(entry.ticket.holder.pid))),
                ("user", .string(entry.ticket.holder.user)),
                ("order_key", .optional(entry.ticket.orderKey)),
                ("since", .string(TimeFormat.rfc3339(millisecondsSinceEpoch: entry.ticket.joinedAtMilliseconds))),
                ("instances", .integer(Int64(entry.instances))),
            ])
        })
    }
}
