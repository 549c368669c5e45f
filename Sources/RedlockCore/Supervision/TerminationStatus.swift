import Glibc

/// How COMMAND ended.
public enum TerminationStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Signal)

    /// Decodes a wait(2) status word.
    init(waitStatus status: Int32) {
        let signal = status & 0x7F
        if signal == 0 {
            self = .exited((status >> 8) & 0xFF)
        } else {
            self = .signaled(Signal(rawValue: signal))
        }
    }

    /// The status a shell reports for it: the exit code, or 128 + N for signal N.
    public var shellStatus: Int32 {
        switch self {
        case let .exited(code): return code
        case let .signaled(signal): return 128 + signal.rawValue
        }
    }
}
