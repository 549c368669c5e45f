// A TCP proxy placed between redlock and one redis-server to inject network faults.
//
// A paused or killed server covers "dead" and "silent" peers, but Redlock's timing rules
// (quorum within the validity time, per-server timeouts, treating protocol errors as a
// failed vote) also need peers that are slow, that never answer, that speak garbage, or
// that hang up halfway through a reply. The proxy produces those on demand, and its mode
// can be switched while redlock is running.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A loopback TCP proxy to `127.0.0.1:targetPort` with a switchable fault mode.
///
/// One background thread multiplexes the listening socket and every connection with
/// poll(2), so any number of concurrent clients are served. Each accepted client gets its
/// own upstream connection to the target.
final class FaultProxy: @unchecked Sendable {
    /// How the proxy treats data from the moment the mode is set.
    enum Mode: Sendable, Equatable {
        /// Forward both directions unchanged.
        case pass
        /// Forward requests at once, hold each chunk of the server's reply back for this long
        /// (a slow server or link: a round trip takes at least `milliseconds` longer).
        case delay(milliseconds: Int)
        /// Accept connections and read requests but never forward or answer them
        /// (a peer that went silent). Replies still in flight from the server are dropped.
        case stall
        /// Answer every read with `FaultProxy.garbageBytes`, which is not RESP; requests
        /// are not forwarded.
        case garbage
        /// Forward the request, then send only the first half of the server's next reply
        /// chunk and close the connection (a peer that dies mid-reply).
        case cutMidReply
        /// Forward both ways, but once a connection's client has sent `bytes` in all, stop
        /// reading from it for `milliseconds` (once per connection): its socket buffers fill
        /// and its writes meet EAGAIN (write back-pressure), then everything flows again.
        case stopReadingAfter(bytes: Int, milliseconds: Int)
        /// Forward replies at once, hold each chunk of the client's requests back for this
        /// long (a request that is slow to arrive: one client's writes land on this server
        /// later than on the others, while other clients' go through at once).
        case delayRequests(milliseconds: Int)
    }

    /// What `.garbage` answers: not a RESP type byte, then some text.
    static let garbageBytes: [UInt8] = Array("\u{1}\u{2}hello garbage\r\n".utf8)

    /// The port of the server that data is forwarded to.
    let targetPort: UInt16
    /// The port the proxy listens on (127.0.0.1).
    let port: UInt16
    /// `redis://127.0.0.1:<port>`: give this to redlock instead of the server's URL.
    var url: String { "redis://127.0.0.1:\(port)" }

    private let engine: Engine

    /// Starts listening on a free loopback port and serving in the background.
    init(targetPort: UInt16, mode: Mode = .pass) throws {
        self.targetPort = targetPort
        engine = try Engine(targetPort: targetPort, mode: mode)
        port = engine.port
        let engine = self.engine
        let thread = Thread { engine.run() }
        thread.name = "FaultProxy :\(port) -> :\(targetPort)"
        thread.start()
    }

    deinit { engine.stop() }

    /// The current mode; setting it affects data read from then on (bytes already queued
    /// for delivery keep the treatment they got when they were read).
    var mode: Mode {
        get { engine.mode }
        set { engine.mode = newValue }
    }

    /// How many client connections the proxy has accepted so far.
    var acceptedConnections: Int { engine.acceptedConnections }

    /// Closes every current connection (both sides), like a network reset; the proxy
    /// keeps accepting new ones.
    func dropConnections() { engine.dropConnections() }

    /// Closes the listening socket and every connection, and waits for the background
    /// thread to finish. Idempotent; also done on deinit.
    func stop() { engine.stop() }
}

// MARK: - Engine

extension FaultProxy {
    /// One proxied client and its upstream connection. Only touched by the proxy thread.
    fileprivate final class Connection {
        let client: Int32
        var server: Int32
        /// Request bytes not yet written upstream.
        var toServer: [UInt8] = []
        /// Request chunks held back (`.delayRequests`) with the time (monotonic ns) they may
        /// join `toServer`, in order.
        var heldRequests: [(due: UInt64, bytes: [UInt8])] = []
        /// Reply chunks for the client with the time (monotonic ns) they may be sent.
        var toClient: [(due: UInt64, bytes: [UInt8])] = []
        /// Bytes of `toClient.first` already written.
        var headOffset = 0
        /// Close once `toClient` is flushed (server hung up, or a cut reply).
        var closeWhenFlushed = false
        /// Bytes read from the client so far.
        var receivedFromClient = 0
        /// Until when (monotonic ns) the client is not read from (`.stopReadingAfter`).
        var deafUntil: UInt64?
        /// The client hung up with requests still held back: as TCP delivers what was sent
        /// before a FIN, they still go to the server, and then the connection closes.
        var clientGone = false

        init(client: Int32, server: Int32) {
            self.client = client
            self.server = server
        }
    }

    fileprivate final class Engine: @unchecked Sendable {
        let port: UInt16
        private let targetPort: UInt16
        private let listenFD: Int32
        private let wakeRead: Int32
        private let wakeWrite: Int32

        private let lock = NSLock()
        private var currentMode: Mode
        private var stopRequested = false
        private var stopped = false
        private var dropRequested = false
        private var accepted = 0
        private let finished = DispatchSemaphore(value: 0)

        init(targetPort: UInt16, mode: Mode) throws {
            self.targetPort = targetPort
            currentMode = mode
            let fd = try Sockets.makeTCPSocket()
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            do {
                try Sockets.bind(fd, host: "127.0.0.1", port: 0)
                guard listen(fd, 128) == 0 else { throw SocketError("listen") }
                port = try Sockets.localPort(of: fd)
            } catch {
                close(fd)
                throw error
            }
            Sockets.setNonBlocking(fd)
            listenFD = fd
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                close(fd)
                throw SocketError("pipe")
            }
            for p in fds {
                _ = fcntl(p, F_SETFD, FD_CLOEXEC)
                Sockets.setNonBlocking(p)
            }
            wakeRead = fds[0]
            wakeWrite = fds[1]
        }

        var mode: Mode {
            get { lock.withLock { currentMode } }
            set { lock.withLock { currentMode = newValue } }
        }

        var acceptedConnections: Int { lock.withLock { accepted } }

        func dropConnections() {
            lock.withLock { dropRequested = true }
            wake()
        }

        func stop() {
            let shouldWait: Bool = lock.withLock {
                if stopRequested { return false }
                stopRequested = true
                return true
            }
            guard shouldWait else {
                // Another caller is stopping (or has stopped); wait until it is done.
                while !lock.withLock({ stopped }) { Thread.sleep(forTimeInterval: 0.005) }
                return
            }
            wake()
            finished.wait()
            close(listenFD)
            close(wakeRead)
            close(wakeWrite)
            lock.withLock { stopped = true }
        }

        private func wake() {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }

        // MARK: Proxy thread

        func run() {
            var connections: [Connection] = []
            defer {
                for c in connections { closeConnection(c) }
                finished.signal()
            }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)

            while true {
                let now = Self.monotonicNanos()
                // Poll set: [wake pipe, listener, then client+server per connection].
                var pollFDs = [
                    pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
                    pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                ]
                var timeoutMs: Int32 = 100  // also bounds how stale a missed wake-up can be
                for c in connections {
                    var clientEvents = Int16(POLLIN)
                    if let head = c.toClient.first {
                        if head.due <= now {
                            clientEvents |= Int16(POLLOUT)
                        } else {
                            timeoutMs = min(timeoutMs, Int32((head.due - now + 999_999) / 1_000_000))
                        }
                    }
                    if c.closeWhenFlushed { clientEvents &= ~Int16(POLLIN) }
                    while let held = c.heldRequests.first, held.due <= now {
                        c.toServer += held.bytes
                        c.heldRequests.removeFirst()
                    }
                    if let held = c.heldRequests.first {
                        timeoutMs = min(timeoutMs, Int32((held.due - now + 999_999) / 1_000_000))
                    }
                    if let until = c.deafUntil, until > now {
                        clientEvents &= ~Int16(POLLIN)
                        timeoutMs = min(timeoutMs, Int32((until - now + 999_999) / 1_000_000))
                    }
                    pollFDs.append(pollfd(fd: c.clientGone ? -1 : c.client, events: clientEvents, revents: 0))
                    var serverEvents: Int16 = 0
                    if c.server >= 0 {
                        serverEvents = Int16(POLLIN)
                        if !c.toServer.isEmpty { serverEvents |= Int16(POLLOUT) }
                    }
                    // A negative fd makes poll ignore the entry.
                    pollFDs.append(pollfd(fd: c.server >= 0 ? c.server : -1, events: serverEvents, revents: 0))
                }

                let rc = poll(&pollFDs, nfds_t(pollFDs.count), timeoutMs)
                if rc < 0 && errno != EINTR { return }

                if pollFDs[0].revents != 0 {
                    var sink = [UInt8](repeating: 0, count: 64)
                    while read(wakeRead, &sink, sink.count) > 0 {}
                }
                let (stop, drop): (Bool, Bool) = lock.withLock {
                    defer { dropRequested = false }
                    return (stopRequested, dropRequested)
                }
                if stop { return }
                if drop {
                    for c in connections { closeConnection(c) }
                    connections.removeAll()
                    continue
                }
                let currentMode = self.mode
                let nowAfterPoll = Self.monotonicNanos()

                var closed: Set<ObjectIdentifier> = []
                for (index, c) in connections.enumerated() {
                    let clientRevents = pollFDs[2 + 2 * index].revents
                    let serverRevents = pollFDs[3 + 2 * index].revents
                    if !handle(c, clientRevents: clientRevents, serverRevents: serverRevents,
                               mode: currentMode, now: nowAfterPoll, buffer: &buffer) {
                        closeConnection(c)
                        closed.insert(ObjectIdentifier(c))
                    }
                }
                if !closed.isEmpty {
                    connections.removeAll { closed.contains(ObjectIdentifier($0)) }
                }

                if pollFDs[1].revents != 0 {
                    connections += acceptAll(mode: currentMode)
                }
            }
        }

        /// Services one connection; returns false when it should be closed.
        private func handle(_ c: Connection, clientRevents: Int16, serverRevents: Int16,
                            mode: Mode, now: UInt64, buffer: inout [UInt8]) -> Bool {
            // A client that hung up while we only wait to flush to it: nobody to deliver to.
            if c.closeWhenFlushed && clientRevents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 { return false }

            // Client -> proxy.
            let deaf = c.deafUntil.map { $0 > now } ?? false
            if clientRevents & Int16(POLLIN | POLLHUP | POLLERR) != 0 && !c.closeWhenFlushed && !deaf {
                let n = buffer.withUnsafeMutableBytes { recv(c.client, $0.baseAddress, $0.count, 0) }
                if n == 0 {
                    guard c.server >= 0, !c.heldRequests.isEmpty || !c.toServer.isEmpty else { return false }
                    c.clientGone = true
                    return true
                }
                if n < 0 {
                    if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { return false }
                } else {
                    let data = Array(buffer[0..<n])
                    c.receivedFromClient += n
                    switch mode {
                    case .pass, .delay, .cutMidReply:
                        if c.server < 0 { return false }
                        // Behind chunks still held back, in order.
                        if c.heldRequests.isEmpty { c.toServer += data } else { c.heldRequests.append((due: now, bytes: data)) }
                    case .delayRequests(let ms):
                        if c.server < 0 { return false }
                        c.heldRequests.append((due: now + UInt64(max(ms, 0)) * 1_000_000, bytes: data))
                    case let .stopReadingAfter(bytes, milliseconds):
                        if c.server < 0 { return false }
                        c.toServer += data
                        if c.deafUntil == nil && c.receivedFromClient >= bytes {
                            c.deafUntil = now + UInt64(max(milliseconds, 0)) * 1_000_000
                        }
                    case .stall:
                        break
                    case .garbage:
                        c.toClient.append((due: now, bytes: FaultProxy.garbageBytes))
                    }
                }
            }

            // Server -> proxy.
            if c.server >= 0 && serverRevents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = buffer.withUnsafeMutableBytes { recv(c.server, $0.baseAddress, $0.count, 0) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    // The server hung up: deliver what is queued, then close the client too.
                    close(c.server)
                    c.server = -1
                    c.toServer.removeAll()
                    c.closeWhenFlushed = true
                } else if n > 0 {
                    let data = Array(buffer[0..<n])
                    switch mode {
                    case .pass, .stopReadingAfter, .delayRequests:
                        c.toClient.append((due: now, bytes: data))
                    case .delay(let ms):
                        c.toClient.append((due: now + UInt64(max(ms, 0)) * 1_000_000, bytes: data))
                    case .stall, .garbage:
                        break
                    case .cutMidReply:
                        c.toClient.append((due: now, bytes: Array(data[0..<(data.count / 2)])))
                        close(c.server)
                        c.server = -1
                        c.toServer.removeAll()
                        c.closeWhenFlushed = true
                    }
                }
            }

            // Proxy -> server.
            if c.server >= 0 && !c.toServer.isEmpty && serverRevents & Int16(POLLOUT) != 0 {
                let n = c.toServer.withUnsafeBytes { send(c.server, $0.baseAddress, $0.count, Sockets.noSignalFlag) }
                if n > 0 {
                    c.toServer.removeFirst(n)
                } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    return false
                }
            }

            if c.clientGone { return !c.heldRequests.isEmpty || !c.toServer.isEmpty }

            // Proxy -> client: every chunk that is due, in order.
            if clientRevents & Int16(POLLOUT) != 0 {
                while let head = c.toClient.first, head.due <= now {
                    if head.bytes.count == c.headOffset {
                        c.toClient.removeFirst()
                        c.headOffset = 0
                        continue
                    }
                    let n = head.bytes.withUnsafeBytes {
                        send(c.client, $0.baseAddress! + c.headOffset, $0.count - c.headOffset, Sockets.noSignalFlag)
                    }
                    if n < 0 {
                        if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { break }
                        return false
                    }
                    c.headOffset += n
                }
            }
            // Drop fully sent empty heads (a cut of a 1-byte chunk queues zero bytes).
            while let head = c.toClient.first, head.bytes.count == c.headOffset, head.due <= now {
                c.toClient.removeFirst()
                c.headOffset = 0
            }

            if c.closeWhenFlushed && c.toClient.isEmpty { return false }
            if clientRevents & Int16(POLLERR | POLLNVAL) != 0 { return false }
            return true
        }

        private func acceptAll(mode: Mode) -> [Connection] {
            var result: [Connection] = []
            while true {
                // (accept4 is not exported by the Glibc module; children that the tests
                // start via ChildProcess close every descriptor above 2 anyway.)
                let fd = accept(listenFD, nil, nil)
                if fd < 0 { break }  // EAGAIN: no more pending connections
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                lock.withLock { accepted += 1 }
                let server = (try? Sockets.connect(host: "127.0.0.1", port: targetPort)) ?? -1
                if server < 0 {
                    switch mode {
                    case .pass, .delay, .cutMidReply, .stopReadingAfter, .delayRequests:
                        // Nothing to forward to: hang up, as a dead server's link would.
                        close(fd)
                        continue
                    case .stall, .garbage:
                        break  // these modes never need the server
                    }
                }
                Sockets.setNonBlocking(fd)
                var one: Int32 = 1
                _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                if server >= 0 { Sockets.setNonBlocking(server) }
                result.append(Connection(client: fd, server: server))
            }
            return result
        }

        private func closeConnection(_ c: Connection) {
            close(c.client)
            if c.server >= 0 { close(c.server) }
            c.server = -1
        }

        private static func monotonicNanos() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }
    }
}
