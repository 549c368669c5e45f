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
            // One copy of the bytes, not `map` byte by byte (40 K instructions a run).
            out.append(Array(UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: strlen(entry))))
            pointer += 1
        }
        return out
    }

    /// A variable's value as the kernel gave it (bytes: not necessarily UTF-8), nil when unset.
    public static func environmentValueBytes(_ name: String) -> [UInt8]? {
        guard let value = getenv(name) else { return nil }
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self), count: strlen(value)))
    }

    public static func environmentValue(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

extension ProcessIdentity {
    /// Whether no process with `pid` exists here (kill(pid, 0) says ESRCH). A process that
    /// exists but is not ours (EPERM), or a pid taken again by another process, is not gone.
    public static func isGone(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    /// Another process's command line from /proc, arguments joined by spaces; nil if unreadable.
    public static func commandLine(of pid: Int32) -> String? {
        guard var bytes = try? SmallFile(path: "/proc/\(pid)/cmdline", limit: 4096).bytes else { return nil }
        while bytes.last == 0 { bytes.removeLast() }
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    /// Another process's name (`comm`, at most 15 bytes), with anything unprintable escaped
    /// as \xHH so that a name cannot play tricks on a terminal; nil if unreadable.
    public static func commandName(of pid: Int32) -> String? {
        guard var bytes = try? SmallFile(path: "/proc/\(pid)/comm", limit: 64).bytes else { return nil }
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        var name = ""
        for byte in bytes {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
                name.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let digits = Array("0123456789abcdef")
                name += "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
            }
        }
        return name
    }

    /// Every process below `pid` (children of each of its threads, and theirs), parents
    /// first, from /proc/PID/task/TID/children.
    public static func descendants(of pid: Int32) -> [Int32] {
        var found: [Int32] = []
        var index = -1
        var current = pid
        while true {
            for task in threads(of: current) {
                guard let text = try? SmallFile(path: "/proc/\(current)/task/\(task)/children", limit: 1 << 20).bytes else { continue }
                for field in text.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }) {
                    if let child = Int32(String(decoding: field, as: UTF8.self)) { found.append(child) }
                }
            }
            index += 1
            guard index < found.count else { return found }
            current = found[index]
        }
    }

    /// The thread ids of `pid`, from /proc/PID/task.
    private static func threads(of pid: Int32) -> [Int32] {
        guard let directory = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(directory) }
        var tasks: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let task = Int32(name) { tasks.append(task) }
        }
        return tasks
    }
}
