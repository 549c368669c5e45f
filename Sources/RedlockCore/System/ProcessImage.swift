import Glibc

/// Replacing redlock with another program (execvp): for a nested run, whose parent already
/// holds the lock, redlock has nothing left to do, so COMMAND takes its place. Its pid, its
/// process group, its signals and its exit status are then exactly COMMAND's, as if the
/// caller had started it directly.
public enum ProcessImage {
    /// Executes `arguments` (looked up in PATH like a shell does when argv[0] has no slash)
    /// with the current environment. Returns only when that failed, with the reason.
    public static func replace(with arguments: [[UInt8]]) -> Errno {
        guard !arguments.isEmpty else { return Errno(rawValue: EINVAL) }
        // Bytes as given: a NUL cannot be inside an argv word, so each is taken up to its end.
        let copies: [UnsafeMutablePointer<CChar>?] = arguments.map { word in
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: word.count + 1)
            for (index, byte) in word.enumerated() { buffer[index] = CChar(bitPattern: byte) }
            buffer[word.count] = 0
            return buffer
        }
        defer { for copy in copies { copy?.deallocate() } }
        let vector = copies + [nil]
        execvp(copies[0]!, vector)
        return Errno.current
    }
}
