/// The options of flock(1) that people type out of habit: each gets a hint saying what
/// redlock spells instead, never a silent alias (`-s/--shared` and `-x/--exclusive` are
/// redlock's own lock modes, as in flock).
enum FlockHabit {
    static func hint(for option: String) -> String? {
        switch option {
        case "-c", "--command":
            return " (redlock runs COMMAND without a shell; for a shell string write: redlock run KEY -- sh -c '...')"
        case "--timeout":
            return " (flock's --timeout is redlock's -w/--wait D)"
        case "--nonblock", "--nb":
            return " (flock's --nonblock is redlock's -n/--no-wait)"
        case "-e":
            return " (flock's -e is redlock's -x/--exclusive, the default)"
        case "-u", "--unlock":
            return " (redlock releases KEY when COMMAND ends; for a script's lock use 'redlock release')"
        case "-o", "--close":
            return " (COMMAND never inherits a lock descriptor from redlock: leave it out)"
        default:
            return nil
        }
    }
}
