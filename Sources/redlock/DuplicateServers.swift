import RedlockCore

/// One server, one vote, in every command that counts votes. A server listed under two
/// names (`localhost` and `127.0.0.1`, a unix socket and TCP, `/0` and `/1`) would answer
/// twice: `run` and `acquire` would take a lock a second client can take too once that one
/// server restarts empty, `extend` and `release` would confirm on a quorum that is not one,
/// `inspect` and `force-release` would count one answer twice. Each connection learns its
/// server's INFO run_id in the handshake, so this is known after a command's first round.
enum DuplicateServers {
    /// Exit 78 naming both instances (address and database: never credentials) when two of
    /// them reached the same server. With `askingFirst`, a PING round first connects the
    /// instances no round has reached yet, for a command that must refuse before it acts.
    static func refuse(_ redlock: Redlock, askingFirst: Bool = false) throws(Failure) {
        let instances = redlock.instances
        if askingFirst && instances.endpoints.indices.contains(where: { instances.serverIdentity(of: $0) == nil }) {
            _ = instances.broadcast(Command("PING"))
        }
        guard let (first, second) = instances.duplicateIdentities().first else { return }
        let endpoints = instances.endpoints
        throw Failure(.configuration, "\(endpoints[first].identity) and \(endpoints[second].identity) are the same Redis server (run_id \(instances.serverIdentity(of: first) ?? "?")): it would vote twice; list each server once")
    }
}
