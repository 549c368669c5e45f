/// Text that came from outside (a lock value another client wrote, a server's error text,
/// KEY, a URL) made safe to print: no byte of it can move the cursor, retitle the window,
/// or rewrite what the operator reads.
///
/// C0 controls, DEL and C1 controls become `\xNN` (a C1 control written as a character
/// becomes `\u{NN}`, so it stays apart from the same raw byte), the Unicode controls that
/// reorder or break lines (bidi overrides and isolates, U+2028/U+2029) become `\u{NNNN}`,
/// and bytes that are not UTF-8 become `\xNN`. A backslash stays a backslash: escaping is
/// then idempotent, so text escaped where it is formatted may pass through a `Console`
/// sink that escapes again without doubling anything.
enum TerminalText {
    /// `text` on one line: a newline or tab inside it is escaped too.
    static func escaped(_ text: String) -> String {
        guard text.utf8.contains(where: { $0 < 0x20 || $0 >= 0x7F }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { append(scalar, keepingNewlines: false, to: &out) }
        return out
    }

    /// A report of several lines: each line escaped, the newlines kept.
    static func escapedKeepingNewlines(_ text: String) -> String {
        guard text.utf8.contains(where: { ($0 < 0x20 && $0 != 0x0A) || $0 >= 0x7F }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars { append(scalar, keepingNewlines: true, to: &out) }
        return out
    }

    /// Bytes as stored or as given (a key, an argument): UTF-8 shown as text, any other
    /// byte as `\xNN`, so `lk-\xff` and `lk-\xfe` print as two different keys.
    static func escaped(bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var out = ""
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let length = sequenceLength(lead: bytes[index])
            if length > 0, index + length <= bytes.count,
               let decoded = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                for scalar in decoded.unicodeScalars { append(scalar, keepingNewlines: false, to: &out) }
                index += length
            } else {
                out += hexByte(bytes[index])
                index += 1
            }
        }
        return out
    }

    private static func append(_ scalar: Unicode.Scalar, keepingNewlines: Bool, to out: inout String) {
        let value = scalar.value
        switch value {
        case 0x0A where keepingNewlines:
            out.unicodeScalars.append(scalar)
        case 0x00..<0x20, 0x7F:
            out += hexByte(UInt8(value))
        case 0x80..<0xA0, 0x200E, 0x200F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
            out += "\\u{" + String(value, radix: 16) + "}"
        default:
            out.unicodeScalars.append(scalar)
        }
    }

    private static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }

    /// How many bytes a UTF-8 sequence starting with `lead` has; 0 when it cannot lead one.
    private static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0x00..<0x80: return 1
        case 0xC2..<0xE0: return 2
        case 0xE0..<0xF0: return 3
        case 0xF0..<0xF5: return 4
        default: return 0
        }
    }
}
