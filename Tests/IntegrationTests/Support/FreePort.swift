// Picks a TCP port for a test server to listen on.
//
// Tests run in parallel and each starts its own redis-server instances, so ports can't be
// hard-coded. Asking the kernel for an ephemeral port (bind to port 0) gives one that is
// free right now. It is released again before the server binds it, so another process can
// in principle grab it in between: RedisServer retries with a new port when that happens.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback TCP port that was free at the time of the call.
func freeLoopbackPort() throws -> UInt16 {
    let fd = try Sockets.makeTCPSocket()
    defer { close(fd) }
    try Sockets.bind(fd, host: "127.0.0.1", port: 0)
    return try Sockets.localPort(of: fd)
}
