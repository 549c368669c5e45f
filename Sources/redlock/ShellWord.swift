/// A word written so that a POSIX shell reads it back as the same one word: bare when it
/// holds nothing a shell treats specially, else in single quotes. For hints that show a
/// command line to copy, and for showing a recorded command without ambiguity.
enum ShellWord {
    static func quoted(_ word: String) -> String {
        if !word.isEmpty, word.utf8.allSatisfy(isPlain) { return word }
        var quoted = "'"
        for character in word {
            if character == "'" { quoted += "'\\''" } else { quoted.append(character) }
        }
        return quoted + "'"
    }

    /// The words of `arguments`, each quoted, separated by spaces. A loop, not
    /// `joined(separator:)`: every `run` records its command line, and the generic join's
    /// first use cost 0.1 M instructions of runtime type lookups (8% of a run's own).
    static func line(_ arguments: [String]) -> String {
        var line = ""
        for argument in arguments {
            if !line.isEmpty { line += " " }
            line += quoted(argument)
        }
        return line
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "_-./:=@%+,".utf8.contains(byte)
        }
    }
}
