import RedlockCore

/// `--events FILE` / `--events-fd N`: what happened to the lock and COMMAND, one JSON object
/// a line, for CI logs and tools (the man page's EVENTS section documents every field).
///
/// Every line carries `event`, `time` (wall clock, RFC 3339 UTC with milliseconds),
/// `unix_ms` (the same instant in milliseconds since the epoch), `key` (KEY as given, before
/// `--prefix`) and `pid` (redlock's). A token or a password is never written: tools read
/// these lines, and CI logs are widely readable.
///
/// A stream that cannot be written (a full disk, a reader that went away) costs one
/// warning and no more events: the lock and COMMAND matter more than their log.
final class EventStream {
    private let output: AppendOnlyOutput
    /// FILE, or "descriptor N", for the warning.
    private let name: String
    private let key: [UInt8]
    private var broken = false
    private let console: Console

    /// Where the lines go, as the command line asked (opened by `open`).
    enum Target {
        case file(String)
        case descriptor(Int32)

        static func from(_ invocation: Invocation) throws(Failure) -> Target? {
            if invocation.has("events") && invocation.has("events-fd") {
                throw Failure.usage("--events and --events-fd exclude each other", command: invocation.command?.rawValue)
            }
            if let path = invocation.last("events") {
                guard !path.isEmpty else { throw Failure.usage("--events needs a file name", command: invocation.command?.rawValue) }
                return .file(path)
            }
            return try Config.integer(invocation, "events-fd", in: 1...1_048_575).map { .descriptor(Int32($0)) }
        }
    }

    /// Opens FILE for appending (created if missing), or checks that N is open for writing.
    static func open(_ target: Target, key: [UInt8], console: Console) throws(Failure) -> EventStream {
        switch target {
        case let .file(path):
            do {
                return EventStream(output: try AppendOnlyOutput(path: path), name: "'\(TerminalText.escaped(path))'", key: key, console: console)
            } catch {
                throw Failure(.configuration, "cannot open events file '\(TerminalText.escaped(path))': \(error)")
            }
        case let .descriptor(number):
            do {
                return EventStream(output: try AppendOnlyOutput(inheriting: number), name: "descriptor \(number)", key: key, console: console)
            } catch {
                throw Failure(.configuration, "--events-fd \(number): descriptor \(number) is not open for writing (\(error))")
            }
        }
    }

    private init(output: AppendOnlyOutput, name: String, key: [UInt8], console: Console) {
        self.output = output
        self.name = name
        self.key = key
        self.console = console
    }

    /// Writes one line: the common fields, then `fields`, in one write(2).
    func emit(_ event: String, _ fields: [(String, JSONValue)] = []) {
        guard !broken else { return }
        let now = WallClock.millisecondsSinceEpoch()
        var members: [(String, JSONValue)] = [
            ("event", .string(event)),
            ("time", .string(TimeFormat.rfc3339(millisecondsSinceEpoch: now, alwaysMilliseconds: true))),
            ("unix_ms", .integer(now)),
        ]
        members += Self.keyFields(key)
        members.append(("pid", .integer(Int64(ProcessIdentity.processID))))
        members += fields
        do {
            try output.write(Array((JSONValue.object(members).text + "\n").utf8))
        } catch {
            broken = true
            console.warn("cannot write events to \(name) (\(error)); no more events are written")
        }
    }

    /// `key` as JSON text. KEY is bytes: when they are not UTF-8, `key` shows each bad byte
    /// as U+FFFD and `key_base64` carries the exact bytes (standard base64, padded).
    static func keyFields(_ key: [UInt8]) -> [(String, JSONValue)] {
        if let text = String(validating: key, as: UTF8.self) { return [("key", .string(text))] }
        return [("key", .string(String(decoding: key, as: UTF8.self))), ("key_base64", .string(base64(key)))]
    }

    /// RFC 4648 section 4, with padding: what `base64 -d` reads.
    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let b0 = UInt32(chunk[chunk.startIndex])
            let b1 = chunk.count > 1 ? UInt32(chunk[chunk.startIndex + 1]) : 0
            let b2 = chunk.count > 2 ? UInt32(chunk[chunk.startIndex + 2]) : 0
            let word = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(word >> 18 & 63)])
            out.append(alphabet[Int(word >> 12 & 63)])
            out.append(chunk.count > 1 ? alphabet[Int(word >> 6 & 63)] : UInt8(ascii: "="))
            out.append(chunk.count > 2 ? alphabet[Int(word & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - The events

    /// The counts every round-based event carries.
    static func counts(_ tally: Tally, instances: Int, done: String) -> [(String, JSONValue)] {
        [("instances", .integer(Int64(instances))), (done, .integer(Int64(tally.confirmed))),
         ("refused", .integer(Int64(tally.refused))), ("failed", .integer(Int64(tally.failures.count))),
         ("errors", .array(tally.failures.map { .string($0.withFlagHint) }))]
    }

    static func status(_ status: TerminationStatus) -> [(String, JSONValue)] {
        switch status {
        case let .exited(code):
            return [("status", .integer(Int64(code))), ("exit_code", .integer(Int64(code)))]
        case let .signaled(signal):
            return [("status", .integer(Int64(status.shellStatus))), ("signal", .string(signal.description))]
        }
    }
}
