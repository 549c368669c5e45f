import Glibc

/// A plain pthread running one closure.
///
/// Why not Foundation's Thread or Dispatch: the hand-off measure needs exactly four
/// contenders running at once (`concurrentPerform` caps its width at the core count, two
/// here), and the delay proxy needs a loop of its own. A dozen lines of pthread do both.
struct Worker {
    private let handle: pthread_t

    /// Starts `body` on a new thread at once.
    init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(WorkerBody(body)).toOpaque()
        var handle = pthread_t()
        let status = pthread_create(&handle, nil, { raw in
            Unmanaged<WorkerBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        precondition(status == 0, "redlock-bench: cannot start a thread (\(status))")
        self.handle = handle
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(handle, nil)
    }

    /// Lets the thread finish on its own (nobody will join it).
    func detach() {
        pthread_detach(handle)
    }
}

/// The closure handed across pthread_create's `void *` argument.
private final class WorkerBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
