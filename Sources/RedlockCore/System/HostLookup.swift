import CLinux
import Glibc

/// A host name being resolved on a thread of its own. getaddrinfo blocks, and a DNS server
/// that does not answer would otherwise hold a round up for the resolver's own timeouts
/// (seconds, per server and attempt) whatever `--connect-timeout` says. The caller polls
/// `descriptor` with its sockets, takes `outcome` once it is readable, and gives the lookup
/// up by dropping it: the thread then finishes alone. Several connections may wait on one
/// lookup (see `HostLookups`): the descriptor stays readable once it has finished.
public final class HostLookup {
    public let host: String
    /// Readable once the lookup has finished.
    public let descriptor: FileDescriptor
    private let lookup: OpaquePointer
    private var finished: Result<StreamSocket.Address, StreamSocket.ResolutionError>?

    public init(host: String, port: UInt16) throws(StreamSocket.ResolutionError) {
        guard let lookup = clinux_lookup_start(host, String(port)) else {
            throw StreamSocket.ResolutionError(description: "cannot resolve '\(host)': \(Errno.current)")
        }
        self.host = host
        self.lookup = lookup
        descriptor = FileDescriptor(rawValue: clinux_lookup_descriptor(lookup))
    }

    deinit {
        clinux_lookup_release(lookup)
    }

    /// The first address found, or why there is none; nil while the lookup is at work.
    public func outcome() -> Result<StreamSocket.Address, StreamSocket.ResolutionError>? {
        if let finished { return finished }
        var storage = sockaddr_storage()
        var length: socklen_t = 0
        var family: Int32 = 0
        var systemErrno: Int32 = 0
        let status = clinux_lookup_result(lookup, &storage, &length, &family, &systemErrno)
        guard status != CLINUX_LOOKUP_PENDING else { return nil }
        if status == 0 {
            let bytes = withUnsafeBytes(of: &storage) { Array($0.prefix(Int(length))) }
            finished = .success(StreamSocket.Address(family: family, bytes: bytes))
        } else {
            finished = .failure(StreamSocket.resolutionError(host: host, status: status, systemErrno: systemErrno))
        }
        return finished
    }
}
