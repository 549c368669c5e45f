/// How to stop COMMAND when it must not run on: a signal to its process group, a grace
/// period for it to clean up, then SIGKILL.
public struct Teardown: Equatable, Sendable {
    public var signal: Signal
    public var grace: Duration

    public init(signal: Signal = .terminate, grace: Duration) {
        self.signal = signal
        self.grace = grace
    }
}
