import Glibc

/// Runs `body` (writes to stdout, stderr, an `--events` pipe) with SIGPIPE blocked for this
/// thread, so a reader that went away costs the write an error (EPIPE), never redlock its
/// life: a dead log reader (a closed `2>` pipe of a cron wrapper) must not kill redlock
/// while it holds the lock, before it has released it. The disposition COMMAND inherits is
/// left alone: nothing is ignored, only blocked here, and a SIGPIPE the body left pending
/// is taken before the mask is restored (one that was pending before is left pending).
public func withBrokenPipeSignalBlocked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    var blocked = sigset_t(), previous = sigset_t(), pending = sigset_t()
    sigemptyset(&blocked)
    sigaddset(&blocked, SIGPIPE)
    sigpending(&pending)
    let wasPending = sigismember(&pending, SIGPIPE) == 1
    pthread_sigmask(SIG_BLOCK, &blocked, &previous)
    defer {
        var now = sigset_t()
        sigpending(&now)
        if !wasPending && sigismember(&now, SIGPIPE) == 1 {
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&blocked, nil, &zero)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    return try body()
}
