import RedlockCore

/// Everything redlock says on stderr: errors, warnings, `-v` logs and the waiting line.
/// stdout is COMMAND's, and the reports of the commands whose output is a report.
struct Console {
    let quiet: Bool
    let verbose: Bool
    let statusIsLive: Bool

    init(quiet: Bool, verbose: Bool) {
        self.quiet = quiet
        self.verbose = verbose
        statusIsLive = FileDescriptor.standardError.isTerminal
    }

    /// One line `redlock: <message>`, always (errors are never silenced).
    func error(_ message: String) {
        FileDescriptor.standardError.writeAll("redlock: \(message)\n")
    }

    /// A warning, unless `-q`.
    func warn(_ message: String) {
        guard !quiet else { return }
        FileDescriptor.standardError.writeAll("redlock: warning: \(message)\n")
    }

    /// A notice that is part of normal operation (waiting started and ended), unless `-q`.
    func note(_ message: String) {
        guard !quiet else { return }
        FileDescriptor.standardError.writeAll("redlock: \(message)\n")
    }

    /// A `-v` log line.
    func log(_ message: @autoclosure () -> String) {
        guard verbose else { return }
        FileDescriptor.standardError.writeAll("redlock: \(message())\n")
    }

    /// Replaces the live status line on a terminal (nothing elsewhere, nothing with `-q`).
    func status(_ message: String) {
        guard statusIsLive, !quiet else { return }
        FileDescriptor.standardError.writeAll("\r\u{1B}[K" + message)
    }

    /// Removes the live status line.
    func clearStatus() {
        guard statusIsLive, !quiet else { return }
        FileDescriptor.standardError.writeAll("\r\u{1B}[K")
    }

    func print(_ text: String) {
        FileDescriptor.standardOutput.writeAll(text + "\n")
    }
}
