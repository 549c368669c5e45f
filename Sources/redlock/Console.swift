import RedlockCore

/// Everything redlock says on stderr: errors, warnings, `-v` logs and the waiting line.
/// stdout is COMMAND's, and the reports of the commands whose output is a report.
///
/// Every line passes through `TerminalText` here, the one door to the terminal: a message
/// may quote a server's error text, a holder another client wrote, or KEY, and none of
/// their control bytes may reach the terminal.
struct Console {
    let quiet: Bool
    let verbose: Bool
    let statusIsLive: Bool
    /// The waiting line and the notes around it; off with `-E 0`, where "someone else is
    /// running it" is a quiet success and cron must get no mail.
    private(set) var showsProgress = true

    init(quiet: Bool, verbose: Bool) {
        self.quiet = quiet
        self.verbose = verbose
        statusIsLive = FileDescriptor.standardError.isTerminal
    }

    /// One line `redlock: <message>`, always (errors are never silenced).
    func error(_ message: String) {
        Self.writeError(message)
    }

    /// The error line, for callers without a Console (Main's last word).
    static func writeError(_ message: String) {
        FileDescriptor.standardError.writeAll("redlock: \(TerminalText.escaped(message))\n")
    }

    /// A warning, unless `-q`.
    func warn(_ message: String) {
        guard !quiet else { return }
        FileDescriptor.standardError.writeAll("redlock: warning: \(TerminalText.escaped(message))\n")
    }

    /// This console without the waiting line and its notes (`-E 0`); errors and warnings stay.
    func withoutProgress() -> Console {
        var console = self
        console.showsProgress = false
        return console
    }

    /// A notice that is part of normal operation (waiting started and ended), unless `-q`.
    func note(_ message: String) {
        guard !quiet, showsProgress else { return }
        FileDescriptor.standardError.writeAll("redlock: \(TerminalText.escaped(message))\n")
    }

    /// A `-v` log line.
    func log(_ message: @autoclosure () -> String) {
        guard verbose else { return }
        FileDescriptor.standardError.writeAll("redlock: \(TerminalText.escaped(message()))\n")
    }

    /// Replaces the live status line on a terminal (nothing elsewhere, nothing with `-q`).
    /// The line is cut to the terminal's width, less one column: a line that reaches the
    /// last column wraps on some terminals, and "\r" would then return to its second half
    /// and leave the first behind.
    func status(_ message: String) {
        guard statusIsLive, !quiet, showsProgress else { return }
        let line = TerminalText.escaped(message)
        let columns = FileDescriptor.standardError.terminalColumns ?? 80
        FileDescriptor.standardError.writeAll("\r\u{1B}[K" + Self.cut(line, toColumns: max(columns - 1, 1)))
    }

    /// Removes the live status line.
    func clearStatus() {
        guard statusIsLive, !quiet, showsProgress else { return }
        FileDescriptor.standardError.writeAll("\r\u{1B}[K")
    }

    /// A report on stdout; lines stay lines, and nothing else of a control character.
    func print(_ text: String) {
        FileDescriptor.standardOutput.writeAll(TerminalText.escapedKeepingNewlines(text) + "\n")
    }

    /// `line` cut to at most `columns` terminal cells, with "…" where it was cut. Wide
    /// (East Asian, emoji) characters count two cells, combining marks none.
    static func cut(_ line: String, toColumns columns: Int) -> String {
        var used = 0
        var out = ""
        for character in line {
            let width = cells(character)
            if used + width > columns {
                // Room for the ellipsis: drop characters until it fits.
                while used + 1 > columns, let last = out.popLast() { used -= cells(last) }
                return out + "…"
            }
            used += width
            out.append(character)
        }
        return out
    }

    private static func cells(_ character: Character) -> Int {
        guard let value = character.unicodeScalars.first?.value else { return 0 }
        switch value {
        case 0x0300..<0x0370: return 0
        case 0x1100...0x115F, 0x2E80...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F,
             0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1FAFF, 0x20000...0x3FFFD:
            return 2
        default: return 1
        }
    }
}
