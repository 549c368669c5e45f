import Glibc

/// Who this process is, for the holder metadata that `inspect` shows.
public enum ProcessIdentity {
    public static var processID: Int32 { getpid() }
    public static var parentProcessID: Int32 { getppid() }

    public static var hostName: String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let status = buffer.withUnsafeMutableBufferPointer { raw in
            raw.withMemoryRebound(to: CChar.self) { gethostname($0.baseAddress!, $0.count - 1) }
        }
        guard status == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// The login name of the real user, or the uid when it has no passwd entry (containers).
    public static var userName: String {
        let uid = getuid()
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let found = result, let name = found.pointee.pw_name {
            return String(cString: name)
        }
        return String(uid)
    }

    /// The process's environment as "NAME=value" strings.
    public static var environment: [String] {
        var out: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            out.append(String(cString: entry))
            pointer += 1
        }
        return out
    }

    /// The process's environment as "NAME=value" bytes, as the kernel gave them: a value
    /// that is not UTF-8 reaches COMMAND unchanged.
    public static var environmentBytes: [[UInt8]] {
        var out: [[UInt8]] = []
        var pointer = environ
        while let entry = pointer.pointee {
            out.append(UnsafeRawBufferPointer(start: entry, count: strlen(entry)).map { $0 })
            pointer += 1
        }
        return out
    }

    public static func environmentValue(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

extension ProcessIdentity {
    /// Another process's command line from /proc, arguments joined by spaces; nil if unreadable.
    public static func commandLine(of pid: Int32) -> String? {
        guard var bytes = try? SmallFile(path: "/proc/\(pid)/cmdline", limit: 4096).bytes else { return nil }
        while bytes.last == 0 { bytes.removeLast() }
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

}
