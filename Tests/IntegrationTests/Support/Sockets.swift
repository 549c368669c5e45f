// Thin wrappers over the BSD socket calls shared by FreePort, RESPClient and FaultProxy.
//
// The test oracle must not reuse any networking code from Sources/, so the support code
// talks to the kernel directly. Every descriptor is created close-on-exec, so sockets held
// by one test never leak into a redis-server or redlock process that another test spawns.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call, with errno kept so a test failure says what went wrong.
struct SocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32

    init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    var description: String {
        "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
    }
}

/// Socket helpers used by the test support code. Only IPv4 TCP is needed: every server
/// the tests start listens on 127.0.0.1.
enum Sockets {
    #if os(Linux)
    static let streamType = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
    #else
    static let streamType = SOCK_STREAM
    #endif

    /// A new TCP socket, close-on-exec.
    static func makeTCPSocket() throws -> Int32 {
        let fd = socket(AF_INET, streamType, 0)
        guard fd >= 0 else { throw SocketError("socket") }
        #if !os(Linux)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        #endif
        return fd
    }

    /// `host:port` as a `sockaddr_in`; `host` must be a dotted IPv4 literal.
    static func address(host: String, port: UInt16) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            throw SocketError("inet_pton(\(host))", code: EINVAL)
        }
        return addr
    }

    static func bind(_ fd: Int32, host: String, port: UInt16) throws {
        var addr = try address(host: host, port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                systemBind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw SocketError("bind(\(host):\(port))") }
    }

    /// The port the kernel assigned to a bound socket.
    static func localPort(of fd: Int32) throws -> UInt16 {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard rc == 0 else { throw SocketError("getsockname") }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// A blocking TCP connection to `host:port`. Loopback connects complete (or are refused)
    /// immediately, so no connect timeout is needed.
    static func connect(host: String, port: UInt16) throws -> Int32 {
        let fd = try makeTCPSocket()
        var addr = try address(host: host, port: port)
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    systemConnect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        } while rc != 0 && errno == EINTR
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw SocketError("connect(\(host):\(port))", code: code)
        }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    /// Sets SO_RCVTIMEO and SO_SNDTIMEO so a blocking read or write fails with EAGAIN instead
    /// of hanging the test forever when the peer goes silent.
    static func setTimeouts(_ fd: Int32, seconds: TimeInterval) {
        let clamped = max(seconds, 0.001)
        var tv = timeval()
        tv.tv_sec = Int(clamped)
        tv.tv_usec = .init((clamped - Double(Int(clamped))) * 1_000_000)
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, size)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, size)
    }

    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    /// Writes all of `bytes`. MSG_NOSIGNAL turns a write to a closed peer into EPIPE instead of
    /// a SIGPIPE that would kill the whole test process.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                send(fd, raw.baseAddress! + offset, raw.count - offset, noSignalFlag)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError("send")
            }
            offset += n
        }
    }

    #if os(Linux)
    static let noSignalFlag = Int32(MSG_NOSIGNAL)
    #else
    static let noSignalFlag: Int32 = 0
    #endif
}

// The C functions are shadowed inside `Sockets` by the static methods of the same name.
@inline(__always) private func systemBind(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> Int32 {
    bind(fd, addr, len)
}

@inline(__always) private func systemConnect(_ fd: Int32, _ addr: UnsafePointer<sockaddr>, _ len: socklen_t) -> Int32 {
    connect(fd, addr, len)
}
