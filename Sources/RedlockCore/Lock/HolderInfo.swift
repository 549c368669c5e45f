/// Who holds a lock, as recorded next to the token: for people (`inspect`, the waiting
/// line), never for deciding anything.
public struct HolderInfo: Equatable, Sendable {
    public var host: String
    public var pid: Int32
    public var user: String
    /// The command line, or `--label`'s text.
    public var command: String
    /// Wall-clock milliseconds since the epoch when the lock was taken, for display only.
    public var acquiredAtMilliseconds: Int64

    public init(host: String, pid: Int32, user: String, command: String, acquiredAtMilliseconds: Int64) {
        self.host = host
        self.pid = pid
        self.user = user
        self.command = command
        self.acquiredAtMilliseconds = acquiredAtMilliseconds
    }

    static let unknown = HolderInfo(host: "", pid: 0, user: "", command: "", acquiredAtMilliseconds: 0)
}
