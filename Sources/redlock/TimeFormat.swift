import Glibc

/// Wall-clock times as people and JSON readers expect them.
enum TimeFormat {
    /// RFC 3339 in UTC: 2026-11-26T20:00:00Z (milliseconds when they are not zero, or always
    /// with `alwaysMilliseconds`, so that event lines have one width to parse).
    static func rfc3339(millisecondsSinceEpoch milliseconds: Int64, alwaysMilliseconds: Bool = false) -> String {
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        let fraction = milliseconds % 1000
        if fraction != 0 || alwaysMilliseconds { text += "." + String(String(fraction + 1000).dropFirst()) }
        return text + "Z"
    }
}
