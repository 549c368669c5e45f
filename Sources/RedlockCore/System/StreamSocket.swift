import Glibc

/// The socket calls of a non-blocking client connection: make an address, start the
/// connect, and read the connect's outcome once poll reports the socket writable.
public enum StreamSocket {
    /// A socket address as raw `sockaddr_*` bytes, with its family.
    public struct Address: Sendable {
        public let family: Int32
        public let bytes: [UInt8]
    }

    /// Why a host name did not resolve (getaddrinfo's sentence).
    public struct ResolutionError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The address of `host` when it is an IPv4 or IPv6 literal (with a zone, as in
    /// fe80::1%eth0 or fe80::1%2); nil for a name, which `HostLookup` resolves without
    /// blocking the caller. inet_pton, not getaddrinfo: a literal needs no resolver, and the
    /// static binary then calls getaddrinfo (which needs glibc's NSS files) only for names.
    public static func numericAddress(host: String, port: UInt16) -> Address? {
        var ipv4 = in_addr()
        if inet_pton(AF_INET, host, &ipv4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr = ipv4
            return Address(family: AF_INET, bytes: withUnsafeBytes(of: &address) { Array($0) })
        }
        let parts = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        var ipv6 = in6_addr()
        guard inet_pton(AF_INET6, String(parts[0]), &ipv6) == 1 else { return nil }
        var scope: UInt32 = 0
        if parts.count == 2 {
            let zone = String(parts[1])
            scope = UInt32(zone) ?? if_nametoindex(zone)
            guard scope != 0 else { return nil }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        address.sin6_addr = ipv6
        address.sin6_scope_id = scope
        return Address(family: AF_INET6, bytes: withUnsafeBytes(of: &address) { Array($0) })
    }

    /// getaddrinfo's failure `status` for `host`, as a sentence.
    static func resolutionError(host: String, status: Int32, systemErrno: Int32) -> ResolutionError {
        let reason = status == EAI_SYSTEM ? Errno(rawValue: systemErrno).description : String(cString: gai_strerror(status))
        return ResolutionError(description: "cannot resolve '\(host)': \(reason)")
    }

    /// A unix-domain socket address (the path must fit sun_path; Endpoint checks that).
    public static func address(unixPath path: String) -> Address {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return Address(family: AF_UNIX, bytes: withUnsafeBytes(of: &address) { Array($0) })
    }

    /// Opens a non-blocking, close-on-exec socket (TCP_NODELAY for TCP) and starts
    /// connecting it. Returns it and whether the connect is still under way.
    public static func connect(to address: Address) throws(Errno) -> (socket: FileDescriptor, inProgress: Bool) {
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        let fd = try retryingOnInterrupt { Glibc.socket(address.family, type, 0) }
        let socket = FileDescriptor(rawValue: fd)
        if address.family != AF_UNIX {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        let result = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if result == 0 { return (socket, false) }
        // EINTR: the connect goes on in the background, like EINPROGRESS.
        let error = Errno.current
        if error == .inProgress || error == .interrupted || error == .wouldBlock { return (socket, true) }
        socket.close()
        throw error
    }

    /// How a connect that was under way ended: nil for success, else its error.
    public static func connectError(of socket: FileDescriptor) -> Errno? {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(socket.rawValue, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else { return .current }
        return error == 0 ? nil : Errno(rawValue: error)
    }
}
