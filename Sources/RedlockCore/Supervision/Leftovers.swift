/// What happens to processes of the job still running when COMMAND exits (`--leftovers`).
/// A CI runner or a systemd service ends them; so does redlock by default, because the
/// lock is released right after and they would otherwise run on unguarded.
public enum Leftovers: String, Sendable, CaseIterable {
    /// The lost signal's polite cousin: SIGTERM to each, SIGKILL after the grace.
    case kill
    /// The lock stays held (and renewed) until the last of them ends.
    case wait
    /// The lock is released at once and they run on, unguarded.
    case ignore
}
