import CLinux
import Glibc

/// Signals delivered as readable events on a descriptor (signalfd), so the run loop can wait
/// for a signal, a child's exit and a Redis reply in the same poll.
///
/// This is the one piece of process-global state in redlock: the signals in `signals` are
/// blocked in the process's signal mask for as long as the inbox lives, and the mask is
/// restored when it is closed. COMMAND is started with `originalMask`, so it sees the
/// signal mask redlock itself was started with.
public final class SignalInbox {
    public let descriptor: FileDescriptor
    public let originalMask: sigset_t

    public init(_ signals: [Signal]) throws(Errno) {
        // A parent that ignores SIGCHLD would have its children reaped by the kernel, and
        // waitpid would fail: asking for SIGCHLD restores its default disposition.
        if signals.contains(.child) { Glibc.signal(SIGCHLD, SIG_DFL) }
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal.rawValue) }
        var previous = sigset_t()
        guard sigprocmask(SIG_BLOCK, &set, &previous) == 0 else { throw Errno.current }
        let fd = signalfd(-1, &set, Int32(SFD_NONBLOCK | SFD_CLOEXEC))
        guard fd >= 0 else {
            let error = Errno.current
            sigprocmask(SIG_SETMASK, &previous, nil)
            throw error
        }
        descriptor = FileDescriptor(rawValue: fd)
        originalMask = previous
    }

    deinit {
        descriptor.close()
        var mask = originalMask
        sigprocmask(SIG_SETMASK, &mask, nil)
    }

    /// Every signal that has arrived since the last call, in arrival order (none if none).
    public func drain() -> [Signal] {
        var received: [Signal] = []
        var info = signalfd_siginfo()
        // The descriptor is non-blocking: EAGAIN (thrown) means nothing more has arrived.
        while let count = try? withUnsafeMutableBytes(of: &info, { (raw) throws(Errno) in try descriptor.read(into: raw) }),
              count == MemoryLayout<signalfd_siginfo>.size {
            received.append(Signal(rawValue: Int32(info.ssi_signo)))
        }
        return received
    }

    /// Waits up to `timeout` for a signal; returns the ones that came.
    public func wait(upTo timeout: Duration) -> [Signal] {
        _ = Poll.wait([(descriptor, .readable)], timeout: timeout)
        return drain()
    }
}
