import Glibc
import RedlockCore

/// A loopback TCP proxy in front of one redis-server that holds every chunk of the
/// server's replies back for a fixed delay: a slow instance (or a slow link to it).
///
/// Why a proxy rather than `DEBUG SLEEP`: DEBUG SLEEP blocks the server for every client,
/// the bench's own included, and only for the commands sent while it sleeps; the proxy
/// slows every round trip to that one instance, connecting excepted, which is what a
/// far-away or overloaded master looks like to redlock. Requests go through at once;
/// replies wait. One thread serves all connections with poll(2).
final class DelayProxy: @unchecked Sendable {
    /// The port redlock connects to instead of the server's.
    let port: UInt16
    private let targetPort: UInt16
    private let delay: Duration
    private let listener: Int32
    /// Writing a byte here ends the serving loop.
    private let stopPipe: [Int32]
    private var worker: Worker?

    var url: String { "redis://127.0.0.1:\(port)" }

    init(targetPort: UInt16, delay: Duration) throws(BenchError) {
        self.targetPort = targetPort
        self.delay = delay
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = listener >= 0 && withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(listener, raw, length) == 0 && listen(listener, 64) == 0 && getsockname(listener, raw, &length) == 0
            }
        }
        var pipeEnds: [Int32] = [-1, -1]
        guard listening, pipe(&pipeEnds) == 0 else {
            throw BenchError("delay proxy: cannot listen: \(String(cString: strerror(errno)))")
        }
        pipeEnds.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
        port = UInt16(bigEndian: address.sin_port)
        stopPipe = pipeEnds
        worker = Worker { [self] in serve() }
    }

    /// Ends the loop, closes every socket and waits for the thread.
    func stop() {
        guard let worker else { return }
        var byte: UInt8 = 1
        _ = write(stopPipe[1], &byte, 1)
        worker.join()
        self.worker = nil
        close(listener)
        stopPipe.forEach { close($0) }
    }

    /// One proxied client and its own upstream connection.
    private struct Link {
        let client: Int32
        let server: Int32
        /// Reply chunks and the instant each may be passed on.
        var held: [(due: Instant, bytes: [UInt8])] = []
        var closed = false
    }

    private func serve() {
        var links: [Link] = []
        defer { links.forEach { close($0.client); close($0.server) } }
        while true {
            var fds = [pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0),
                       pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for link in links {
                fds.append(pollfd(fd: link.client, events: Int16(POLLIN), revents: 0))
                fds.append(pollfd(fd: link.server, events: Int16(POLLIN), revents: 0))
            }
            let now = Instant.now()
            let nextDue = links.compactMap { $0.held.first?.due }.min()
            let timeout = nextDue.map { Int32(clamping: $0.remaining(from: now).millisecondsRoundedUp) } ?? -1
            let ready = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if ready < 0 && errno != EINTR { return }
            if fds[0].revents != 0 { return }
            // Links accepted now are polled from the next turn on.
            let polled = links.count
            if fds[1].revents & Int16(POLLIN) != 0, let link = accept() { links.append(link) }
            for index in 0..<polled {
                let clientEvents = fds[2 + 2 * index].revents
                let serverEvents = fds[3 + 2 * index].revents
                // Requests: straight through (blocking writes of a few bytes on loopback).
                if clientEvents != 0 {
                    if let bytes = receive(links[index].client) { sendAll(links[index].server, bytes) } else { links[index].closed = true }
                }
                // Replies: held back until their due instant.
                if serverEvents != 0 {
                    if let bytes = receive(links[index].server) {
                        links[index].held.append((Instant.now() + delay, bytes))
                    } else {
                        links[index].closed = true
                    }
                }
                let current = Instant.now()
                while let first = links[index].held.first, first.due <= current {
                    sendAll(links[index].client, first.bytes)
                    links[index].held.removeFirst()
                }
            }
            links.removeAll { link in
                if link.closed { close(link.client); close(link.server) }
                return link.closed
            }
        }
    }

    private func accept() -> Link? {
        let client = Glibc.accept(listener, nil, nil)
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in.loopback(port: targetPort)
        let connected = server >= 0 && withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            close(client)
            if server >= 0 { close(server) }
            return nil
        }
        var one: Int32 = 1
        for fd in [client, server] { setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) }
        return Link(client: client, server: server)
    }

    /// What one read got; nil at end of stream or on an error.
    private func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 16384)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        return n > 0 ? Array(buffer[..<n]) : nil
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
