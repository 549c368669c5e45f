import CLinux
import Glibc

/// A raw file descriptor with the few operations redlock needs, retried on EINTR (but close).
/// It does not own the descriptor: owners (Connection, SignalInbox) close it in their deinit.
public struct FileDescriptor: Hashable, Sendable {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Reads up to `buffer.count` bytes; 0 means end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        try retryingOnInterrupt { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// Sends bytes on a socket without raising SIGPIPE, so redlock never has to change the
    /// SIGPIPE disposition that COMMAND inherits.
    public func send(_ buffer: UnsafeRawBufferPointer) throws(Errno) -> Int {
        try retryingOnInterrupt { Glibc.send(rawValue, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Writes all of `bytes` (blocking descriptors: stdout, stderr). A closed or full
    /// descriptor loses the rest: there is nowhere left to report that. A pipe whose reader
    /// is gone does not kill redlock (`withBrokenPipeSignalBlocked`): it may hold a lock.
    public func writeAll(_ bytes: [UInt8]) {
        withBrokenPipeSignalBlocked { try? writeWhole(bytes) }
    }

    /// Writes all of `bytes`, a short write completed with more; the first error is thrown
    /// (EIO for a write of nothing). SIGPIPE is the caller's business.
    public func writeWhole(_ bytes: [UInt8]) throws(Errno) {
        let fd = rawValue
        let result: Result<Void, Errno> = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                do throws(Errno) {
                    let count = try retryingOnInterrupt { Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
                    guard count > 0 else { return .failure(Errno(rawValue: EIO)) }
                    offset += count
                } catch {
                    return .failure(error)
                }
            }
            return .success(())
        }
        try result.get()
    }

    public func writeAll(_ text: String) { writeAll(Array(text.utf8)) }

    /// Called once, never again on EINTR: Linux frees the descriptor before close can be
    /// interrupted, so a retry would close whatever descriptor another thread (a host name
    /// lookup) opened under the same number in between.
    public func close() { _ = Glibc.close(rawValue) }

    public var isTerminal: Bool { isatty(rawValue) == 1 }

    public func setNonBlocking() throws(Errno) {
        let flags = try retryingOnInterrupt { fcntl(rawValue, F_GETFL) }
        _ = try retryingOnInterrupt { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }
    }
}

/// poll(2) over a set of descriptors.
public enum Poll {
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(POLLIN))
        public static let writable = Events(rawValue: Int16(POLLOUT))
        public static let error = Events(rawValue: Int16(POLLERR))
        public static let hangUp = Events(rawValue: Int16(POLLHUP))
        public static let invalid = Events(rawValue: Int16(POLLNVAL))
    }

    /// Waits until one of `descriptors` is ready or `timeout` passes; returns what each got.
    /// A signal interrupting the wait is not an error: the caller recomputes its deadlines.
    /// It may return up to a millisecond early: callers loop on their own deadlines.
    ///
    /// Whole milliseconds go to poll(2), the rest of a millisecond to ppoll. poll alone
    /// rounded every wait up to a millisecond, so a round's 0.1 ms of grace for a slower
    /// instance became 1 ms (a hung instance cost `run -- true` 30% in make bench). ppoll
    /// alone is wrong the other way: when the process is stopped (SIGSTOP, Ctrl-Z) and
    /// continued, the kernel restarts ppoll with the time that was left when it stopped,
    /// so a stalled redlock slept that long again past its renewal deadline; poll restarts
    /// toward its original end.
    public static func wait(_ descriptors: [(FileDescriptor, Events)], timeout: Duration) -> [Events] {
        var fds = descriptors.map { pollfd(fd: $0.0.rawValue, events: $0.1.rawValue, revents: 0) }
        let timeout = max(.zero, timeout)
        let ready: Int32
        if timeout >= .milliseconds(1) {
            let milliseconds = Int32(clamping: timeout.nanoseconds / 1_000_000)
            ready = fds.withUnsafeMutableBufferPointer { buffer in
                Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), milliseconds)
            }
        } else {
            var limit = timespec(tv_sec: 0, tv_nsec: Int(timeout.nanoseconds))
            ready = fds.withUnsafeMutableBufferPointer { buffer in
                clinux_ppoll(buffer.baseAddress, nfds_t(buffer.count), &limit)
            }
        }
        if ready <= 0 { return Array(repeating: [], count: fds.count) }
        return fds.map { Events(rawValue: $0.revents) }
    }
}
