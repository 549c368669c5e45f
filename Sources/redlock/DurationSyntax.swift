import RedlockCore

/// Durations as people write them: `250ms`, `30s`, `5m`, `2h`, `1h30m`, `1.5` (seconds).
enum DurationSyntax {
    static let examples = "250ms, 30s, 5m, 2h, 1h30m or a number of seconds"

    /// Parses `text`; nil when it is not a duration (negative values are not durations).
    static func parse(_ text: String) -> Duration? {
        guard !text.isEmpty, text.count <= 40 else { return nil }
        // A bare number is seconds; only digits and one dot (no "1e3", no "0x10").
        if text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            guard let seconds = Double(text) else { return nil }
            guard seconds.isFinite, seconds >= 0, seconds < 1e9 else { return nil }
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        var total: Double = 0
        var rest = Substring(text)
        var lastUnitRank = Int.max
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let (scale, rank): (Double, Int)
            switch unit {
            case "h": (scale, rank) = (3600e9, 4)
            case "m": (scale, rank) = (60e9, 3)
            case "s": (scale, rank) = (1e9, 2)
            case "ms": (scale, rank) = (1e6, 1)
            default: return nil
            }
            // Units go from large to small, each once: "1h30m", not "30m1h" or "1m1m".
            guard rank < lastUnitRank else { return nil }
            lastUnitRank = rank
            total += value * scale
        }
        guard total.isFinite, total < 1e18 else { return nil }
        return .nanoseconds(Int64(total.rounded()))
    }

    /// The shortest exact spelling: 1h30m, 2.5s, 250ms.
    static func format(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds == 0 { return duration == .zero ? "0s" : "\(duration.nanoseconds / 1000)µs" }
        if milliseconds % 1000 != 0 {
            return milliseconds < 1000 ? "\(milliseconds)ms" : trimmed(Double(milliseconds) / 1000) + "s"
        }
        var seconds = milliseconds / 1000
        var out = ""
        if seconds >= 3600 { out += "\(seconds / 3600)h"; seconds %= 3600 }
        if seconds >= 60 { out += "\(seconds / 60)m"; seconds %= 60 }
        if seconds > 0 || out.isEmpty { out += "\(seconds)s" }
        return out
    }

    /// A rough human age: 2m13s, 3h05m, 45s, 850ms.
    static func formatRough(_ duration: Duration) -> String {
        let milliseconds = duration.milliseconds
        if milliseconds < 1000 { return "\(max(0, milliseconds))ms" }
        if milliseconds < 10_000 { return trimmed((Double(milliseconds) / 100).rounded() / 10) + "s" }
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(pad(seconds % 60))s" }
        return "\(seconds / 3600)h\(pad(seconds % 3600 / 60))m"
    }

    /// Round trips: 0.21ms, 12.3ms, 250ms.
    static func formatPrecise(_ duration: Duration) -> String {
        let value = Double(duration.nanoseconds) / 1e6
        if value >= 100 { return "\(Int(value.rounded()))ms" }
        if value >= 10 { return "\((value * 10).rounded() / 10)ms" }
        return "\((value * 100).rounded() / 100)ms"
    }

    private static func pad(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }

    private static func trimmed(_ value: Double) -> String {
        var text = String(value)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }
}
