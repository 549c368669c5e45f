import Glibc

/// A file or an inherited descriptor that redlock appends whole lines to (`--events`).
///
/// Each line goes out in one write(2): with O_APPEND (a file) several writers sharing the
/// file never interleave inside a line, and on a pipe a line up to PIPE_BUF (4096 bytes)
/// arrives whole. SIGPIPE is blocked around the write (`withBrokenPipeSignalBlocked`): a
/// reader that went away costs redlock an error, never its life.
public final class AppendOnlyOutput {
    public let descriptor: FileDescriptor
    /// Whether redlock opened it (and closes it); an inherited descriptor is the caller's.
    private let owned: Bool

    /// Opens (creating, mode 0666 less the umask) `path` for appending; not inherited by
    /// COMMAND.
    public init(path: String) throws(Errno) {
        let fd = try retryingOnInterrupt { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o666) }
        descriptor = FileDescriptor(rawValue: fd)
        owned = true
    }

    /// Uses descriptor `number` as the caller left it open; it must be open for writing.
    public init(inheriting number: Int32) throws(Errno) {
        let flags = try retryingOnInterrupt { fcntl(number, F_GETFL) }
        guard flags & O_ACCMODE == O_WRONLY || flags & O_ACCMODE == O_RDWR else { throw Errno(rawValue: EBADF) }
        descriptor = FileDescriptor(rawValue: number)
        owned = false
    }

    deinit { if owned { descriptor.close() } }

    /// Writes `bytes` in one write(2) (a rare short write is completed with more).
    public func write(_ bytes: [UInt8]) throws(Errno) {
        try withBrokenPipeSignalBlocked { () throws(Errno) in try descriptor.writeWhole(bytes) }
    }
}
