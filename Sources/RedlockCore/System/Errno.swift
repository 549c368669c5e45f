import Glibc

/// An error number from a failed system call, with the C library's sentence for it.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's errno right now: read it immediately after the failing call.
    public static var current: Errno { Errno(rawValue: errno) }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let inProgress = Errno(rawValue: EINPROGRESS)
    public static let noSuchFile = Errno(rawValue: ENOENT)
    public static let timedOut = Errno(rawValue: ETIMEDOUT)

    public var description: String {
        guard let text = strerror(rawValue) else { return "error \(rawValue)" }
        return String(cString: text).lowercasedFirstLetter
    }
}

extension String {
    /// "Connection refused" reads better mid-sentence as "connection refused".
    var lowercasedFirstLetter: String {
        guard let first = first, first.isUppercase else { return self }
        // Keep acronyms ("I/O error") as they are.
        if dropFirst().first?.isUppercase == true || dropFirst().first == "/" { return self }
        return first.lowercased() + dropFirst()
    }
}
