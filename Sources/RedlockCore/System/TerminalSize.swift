import Glibc

extension FileDescriptor {
    /// The width of the terminal on this descriptor (TIOCGWINSZ), asked each time because a
    /// window can be resized while redlock waits; nil when it is not a terminal or the
    /// terminal does not know its size.
    public var terminalColumns: Int? {
        var size = winsize()
        guard ioctl(rawValue, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }
}
