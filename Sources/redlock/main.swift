import Glibc
import RedlockCore

// Everything happens in Main; this file only reads argv once and exits with the status.
exit(Main.run(Array(CommandLine.arguments.dropFirst()), environment: ProcessIdentity.environmentValue))
