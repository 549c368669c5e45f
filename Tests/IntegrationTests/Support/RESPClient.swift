// A tiny blocking RESP2 client that serves as the test oracle.
//
// Integration tests check what redlock did to Redis by asking Redis directly. That check
// must not go through any code from Sources/ (a bug there would otherwise hide itself), so
// this client is written from scratch on plain sockets. It is deliberately simple: one
// connection, one request at a time, replies parsed strictly. Every read and write has a
// socket timeout (5 s by default) so a silent or paused server fails a test instead of
// hanging it.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a RESPClient call failed (as opposed to the server answering with an error reply).
enum RESPClientError: Error, CustomStringConvertible {
    /// No (complete) reply arrived within the socket timeout.
    case timedOut(host: String, port: UInt16)
    /// The server closed (or reset) the connection.
    case connectionClosed(host: String, port: UInt16)
    /// The bytes received are not valid RESP2.
    case protocolViolation(String)
    /// AUTH in `init` was answered with something other than `+OK`.
    case authenticationFailed(RESPValue)
    /// The client was closed by `close()`.
    case clientClosed

    var description: String {
        switch self {
        case let .timedOut(host, port): return "no reply from \(host):\(port) within the socket timeout"
        case let .connectionClosed(host, port): return "\(host):\(port) closed the connection"
        case let .protocolViolation(why): return "invalid RESP reply: \(why)"
        case let .authenticationFailed(reply): return "AUTH failed: \(reply)"
        case .clientClosed: return "RESPClient used after close()"
        }
    }
}

/// A blocking RESP2 connection to one Redis server. Calls are serialized by a lock, so an
/// instance may be shared between threads, but each call waits for its reply.
final class RESPClient: @unchecked Sendable {
    let host: String
    let port: UInt16

    private let lock = NSLock()
    private var fd: Int32
    private var buffer: [UInt8] = []
    private var readIndex = 0

    /// Connects to `host:port`; sends `AUTH password` first when a password is given.
    /// - Parameter timeout: socket send/receive timeout; a read that gets no data for this
    ///   long throws `RESPClientError.timedOut`. Tests that expect a timeout use a short
    ///   one: `RESPClient(port: p, timeout: 0.3)`.
    init(port: UInt16, host: String = "127.0.0.1", password: String? = nil, timeout: TimeInterval = 5) throws {
        self.host = host
        self.port = port
        fd = try Sockets.connect(host: host, port: port)
        Sockets.setTimeouts(fd, seconds: timeout)
        if let password {
            let reply = try command("AUTH", password)
            guard reply == .simple("OK") else { throw RESPClientError.authenticationFailed(reply) }
        }
    }

    deinit { close() }

    /// Sends one command and returns its reply: `try client.command("SET", "k", "v")`.
    @discardableResult
    func command(_ args: String...) throws -> RESPValue {
        try command(arguments: args.map { Array($0.utf8) })
    }

    /// Sends one command given as an array of strings.
    @discardableResult
    func command(_ args: [String]) throws -> RESPValue {
        try command(arguments: args.map { Array($0.utf8) })
    }

    /// Sends one command with binary-safe arguments and returns its reply.
    @discardableResult
    func command(arguments: [[UInt8]]) throws -> RESPValue {
        lock.lock()
        defer { lock.unlock() }
        try sendLocked(Self.encode(arguments))
        return try readValueLocked()
    }

    /// Writes raw bytes (for pipelining or deliberately malformed requests).
    func send(raw bytes: [UInt8]) throws {
        lock.lock()
        defer { lock.unlock() }
        try sendLocked(bytes)
    }

    /// Reads one reply (after `send(raw:)`).
    func readReply() throws -> RESPValue {
        lock.lock()
        defer { lock.unlock() }
        return try readValueLocked()
    }

    /// Closes the connection; later calls throw `RESPClientError.clientClosed`.
    func close() {
        lock.lock()
        defer { lock.unlock() }
        if fd >= 0 {
            #if canImport(Glibc)
            Glibc.close(fd)
            #elseif canImport(Musl)
            Musl.close(fd)
            #else
            Darwin.close(fd)
            #endif
            fd = -1
        }
    }

    /// A command in the RESP2 request form: an array of bulk strings.
    static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for arg in arguments {
            out += Array("$\(arg.count)\r\n".utf8)
            out += arg
            out += [13, 10]
        }
        return out
    }

    // MARK: - I/O (lock held)

    private func sendLocked(_ bytes: [UInt8]) throws {
        guard fd >= 0 else { throw RESPClientError.clientClosed }
        do {
            try Sockets.sendAll(fd, bytes)
        } catch let error as SocketError where error.code == EAGAIN || error.code == EWOULDBLOCK {
            throw RESPClientError.timedOut(host: host, port: port)
        } catch let error as SocketError where error.code == EPIPE || error.code == ECONNRESET {
            throw RESPClientError.connectionClosed(host: host, port: port)
        }
    }

    /// Reads more bytes into the buffer, or throws on timeout / EOF.
    private func fill() throws {
        guard fd >= 0 else { throw RESPClientError.clientClosed }
        if readIndex > 0 && readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return
            }
            // A reset (the peer closed with our data unread) is a closed connection too.
            if n == 0 || errno == ECONNRESET { throw RESPClientError.connectionClosed(host: host, port: port) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK { throw RESPClientError.timedOut(host: host, port: port) }
            throw SocketError("recv")
        }
    }

    /// One CRLF-terminated line, without the CRLF.
    private func readLine() throws -> [UInt8] {
        var scanned = 0  // bytes after readIndex already known not to start a CRLF
        while true {
            var i = readIndex + scanned
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let line = Array(buffer[readIndex..<i])
                    readIndex = i + 2
                    return line
                }
                i += 1
            }
            scanned = i - readIndex
            try fill()  // may compact the buffer, which moves readIndex; `scanned` stays valid
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while buffer.count - readIndex < count { try fill() }
        let bytes = Array(buffer[readIndex..<readIndex + count])
        readIndex += count
        return bytes
    }

    private func readValueLocked() throws -> RESPValue {
        let line = try readLine()
        guard let type = line.first else { throw RESPClientError.protocolViolation("empty line") }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch type {
        case UInt8(ascii: "+"):
            return .simple(rest)
        case UInt8(ascii: "-"):
            return .error(rest)
        case UInt8(ascii: ":"):
            guard let value = Int64(rest) else { throw RESPClientError.protocolViolation("bad integer \(rest.debugDescription)") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(rest), length >= -1 else {
                throw RESPClientError.protocolViolation("bad bulk length \(rest.debugDescription)")
            }
            if length == -1 { return .null }
            let payload = try readExactly(length + 2)
            guard payload[length] == 13, payload[length + 1] == 10 else {
                throw RESPClientError.protocolViolation("bulk string not terminated by CRLF")
            }
            return .bulk(Array(payload[0..<length]))
        case UInt8(ascii: "*"):
            guard let count = Int(rest), count >= -1 else {
                throw RESPClientError.protocolViolation("bad array length \(rest.debugDescription)")
            }
            if count == -1 { return .null }
            var elements: [RESPValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValueLocked()) }
            return .array(elements)
        default:
            throw RESPClientError.protocolViolation("unknown type byte \(type) in line \(String(decoding: line, as: UTF8.self).debugDescription)")
        }
    }
}
