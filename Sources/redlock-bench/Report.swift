import RedlockCore

/// Whether a figure meets the target the issue set for it.
enum Verdict {
    case met
    case missed
    /// Context only: no target applies to this row.
    case informational
    /// The figure could not be taken (the row says why); the bench then exits non-zero.
    case notMeasured

    var text: String {
        switch self {
        case .met: return "yes"
        case .missed: return "NO"
        case .informational: return "-"
        case .notMeasured: return "ERROR"
        }
    }

    static func check(_ met: Bool) -> Verdict { met ? .met : .missed }
}

/// One line of the table.
struct Row {
    var measure: String
    var n: Int?
    var redlock: String
    /// The figure redlock is compared with, named in the cell (flock, or a PING round).
    var baseline: String
    var ratio: String
    var target: String
    var verdict: Verdict

    /// A row whose figure could not be taken; the reason goes in the notes.
    static func notMeasured(_ measure: String, n: Int?) -> Row {
        Row(measure: measure, n: n, redlock: "not measured", baseline: "-", ratio: "-", target: "-", verdict: .notMeasured)
    }
}

/// Everything the bench prints on stdout: a header, one table, notes, and how to rerun.
///
/// Only this goes to stdout, so `make bench > result.txt` keeps exactly the result;
/// progress goes to stderr (`Progress`).
struct Report {
    var rows: [Row] = []
    /// Details a row cannot hold: failures seen, per-instance figures, caveats.
    var notes: [String] = []

    var hasUnmeasured: Bool { rows.contains { $0.verdict == .notMeasured } }

    func render(header: String, elapsed: Duration) -> String {
        let titles = ["measure", "N", "redlock", "baseline", "ratio", "target", "ok"]
        let cells = rows.map { row in
            [row.measure, row.n.map(String.init) ?? "-", row.redlock, row.baseline, row.ratio, row.target, row.verdict.text]
        }
        let widths = titles.indices.map { column in ([titles] + cells).map { $0[column].count }.max()! }
        func line(_ values: [String]) -> String {
            values.indices.map { values[$0].padded(to: widths[$0]) }.joined(separator: " | ").trimmingWhitespaceAtEnd
        }
        var out = [header, "", line(titles), widths.map { String(repeating: "-", count: $0) }.joined(separator: "-+-")]
        out += cells.map(line)
        if !notes.isEmpty {
            out.append("")
            out += notes.map { "note: " + $0 }
        }
        out.append("")
        out.append("run time: \(Format.seconds(elapsed)); reproduce with: make bench  (one measure: make build && .build/release/redlock-bench in-process)")
        return out.joined(separator: "\n") + "\n"
    }
}

/// Number formatting without Foundation.
enum Format {
    /// `value` with exactly `digits` decimals.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * Double(scale)).rounded())
        var text = (value < 0 && scaled != 0 ? "-" : "") + String(scaled / scale)
        if digits > 0 {
            let fraction = String(scaled % scale)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return text
    }

    /// Milliseconds with three significant figures or so: "0.142 ms", "7.31 ms", "203 ms".
    static func milliseconds(_ duration: Duration) -> String {
        let ms = Double(duration.nanoseconds) / 1e6
        if ms < 1 { return fixed(ms, 3) + " ms" }
        if ms < 10 { return fixed(ms, 2) + " ms" }
        if ms < 100 { return fixed(ms, 1) + " ms" }
        return fixed(ms, 0) + " ms"
    }

    static func seconds(_ duration: Duration) -> String {
        fixed(Double(duration.nanoseconds) / 1e9, 1) + " s"
    }

    static func ratio(_ value: Double) -> String { fixed(value, 2) }

    static func mebibytes(kibibytes: Int) -> String { fixed(Double(kibibytes) / 1024, 1) + " MiB" }
}

/// Progress lines on stderr, with the time since the bench started.
enum Progress {
    static let started = Instant.now()

    static func say(_ text: String) {
        FileDescriptor.standardError.writeAll("redlock-bench [\(Format.fixed(Double((Instant.now() - started).nanoseconds) / 1e9, 1))s]: \(text)\n")
    }
}

extension String {
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    var trimmingWhitespaceAtEnd: String {
        var text = Substring(self)
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
