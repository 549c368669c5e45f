import Glibc

/// The controlling terminal, when redlock runs in its foreground: COMMAND's process group
/// gets the terminal (so it can read it, and Ctrl-C reaches COMMAND once, not redlock too),
/// and redlock takes it back when COMMAND ends.
public struct Terminal {
    public let descriptor: FileDescriptor

    /// The terminal on standard input, if there is one and redlock's group is in its foreground.
    public static func foreground() -> Terminal? {
        let input = FileDescriptor.standardInput
        guard input.isTerminal, tcgetpgrp(input.rawValue) == getpgrp() else { return nil }
        return Terminal(descriptor: input)
    }

    /// Makes redlock's own group the foreground group again. SIGTTOU must be blocked (the
    /// SignalInbox blocks it), or the kernel would stop redlock for trying.
    public func reclaim() {
        tcsetpgrp(descriptor.rawValue, getpgrp())
    }

    /// Makes `group` the foreground group (COMMAND's, when it is resumed with `fg`).
    public func give(to group: Int32) {
        tcsetpgrp(descriptor.rawValue, group)
    }
}
