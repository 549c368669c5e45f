import Glibc
import RedlockCore

// Everything happens in Main; this file only reads argv once and exits with the status.
// argv as bytes (CommandLine.arguments would turn a byte that is not UTF-8 into U+FFFD).
let arguments = (1..<Int(CommandLine.argc)).map { index in
    let word = CommandLine.unsafeArgv[index]!
    return UnsafeRawBufferPointer(start: word, count: strlen(word)).map { $0 }
}
exit(Main.run(arguments, environment: ProcessIdentity.environmentValue))
