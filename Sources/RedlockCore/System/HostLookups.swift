/// The host name lookups of one set of connections, shared across rounds: a round that
/// starts while a host's lookup is still at work waits on that lookup instead of starting
/// another thread. Without it, a DNS server that never answers got a new thread per host
/// and round, each stuck for the resolver's own timeouts (review saw 106 threads after 8 s
/// of `run --wait` with three host names).
///
/// Only lookups at work are shared: once one has finished, the next connection looks the
/// name up again, so an address that moves is followed as it was without the sharing.
public final class HostLookups {
    private struct Key: Hashable {
        let host: String
        let port: UInt16
    }

    private var lookups: [Key: HostLookup] = [:]

    public init() {}

    /// The lookup of `host` still at work, or a new one when there is none.
    public func lookup(host: String, port: UInt16) throws(StreamSocket.ResolutionError) -> HostLookup {
        let key = Key(host: host, port: port)
        if let running = lookups[key], running.outcome() == nil { return running }
        let lookup = try HostLookup(host: host, port: port)
        lookups[key] = lookup
        return lookup
    }
}
