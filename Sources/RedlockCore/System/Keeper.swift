import Glibc

/// A fork of redlock that renews the lease while redlock itself is stopped (job control),
/// and the two pipes between them: redlock closes `resume` when it is continued, the keeper
/// answers on `handBack` with the lease's validity and whether it still holds.
///
/// The keeper runs Swift code after fork: it uses only what redlock's main thread owned
/// (its connections, the lease); host name lookup threads do not follow a fork, and glibc
/// keeps malloc usable in the child.
public struct Keeper {
    public let pid: Int32
    private let resume: Int32
    private let handBack: Int32

    /// Forks; in the child, runs `body` with a descriptor that becomes readable when redlock
    /// is continued, sends back what it returns (validity end, holds) and exits.
    /// nil when no keeper could be started.
    public static func start(_ body: (FileDescriptor) -> (validUntil: Instant, holds: Bool)) -> Keeper? {
        var resume: [Int32] = [-1, -1]
        var handBack: [Int32] = [-1, -1]
        guard pipe(&resume) == 0 else { return nil }
        guard pipe(&handBack) == 0 else {
            close(resume[0]); close(resume[1])
            return nil
        }
        let pid = fork()
        if pid == 0 {
            close(resume[1])
            close(handBack[0])
            let answer = body(FileDescriptor(rawValue: resume[0]))
            var message: [Int64] = [answer.validUntil.nanoseconds, answer.holds ? 1 : 0]
            _ = message.withUnsafeMutableBytes { write(handBack[1], $0.baseAddress, $0.count) }
            _exit(0)
        }
        close(resume[0])
        close(handBack[1])
        guard pid > 0 else {
            close(resume[1]); close(handBack[0])
            return nil
        }
        return Keeper(pid: pid, resume: resume[1], handBack: handBack[0])
    }

    /// Tells the keeper redlock is back, waits for its round to end, and returns its answer
    /// (nil if it died without one).
    public func takeBack() -> (validUntil: Instant, holds: Bool)? {
        close(resume)
        var message: [Int64] = [0, 0]
        let count = message.withUnsafeMutableBytes { raw in
            (try? retryingOnInterrupt { read(handBack, raw.baseAddress, raw.count) }) ?? -1
        }
        close(handBack)
        var status: Int32 = 0
        _ = try? retryingOnInterrupt { waitpid(pid, &status, 0) }
        guard count == 16 else { return nil }
        return (Instant(nanoseconds: message[0]), message[1] == 1)
    }

    /// Continues redlock (the keeper's parent), when the lock was lost while it was stopped.
    public static func wakeRedlock() {
        kill(getppid(), SIGCONT)
    }
}
