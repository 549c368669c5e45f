import Glibc

/// A small file read whole (a password file, /proc/PID/cmdline): the bytes, and whether
/// users other than the owner may read it.
public struct SmallFile: Sendable {
    public let bytes: [UInt8]
    /// Group or others have any permission on it: a secret in it is not kept secret.
    public let isOpenToOthers: Bool

    /// Reads at most `limit` bytes of `path`.
    public init(path: String, limit: Int = 65536) throws(Errno) {
        let fd = try retryingOnInterrupt { open(path, O_RDONLY | O_CLOEXEC) }
        let file = FileDescriptor(rawValue: fd)
        defer { file.close() }
        var info = stat()
        isOpenToOthers = fstat(fd, &info) == 0 && info.st_mode & 0o077 != 0
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = try buffer.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try file.read(into: raw) } }.get()
            if count == 0 { break }
            bytes += buffer[..<min(count, limit - bytes.count)]
        }
        self.bytes = bytes
    }
}
