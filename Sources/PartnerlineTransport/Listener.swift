import COpenSSL
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket; accepts on its own serial queue from a DispatchSourceRead
/// and hands each connection to an I/O queue from the pool.
public final class Listener: @unchecked Sendable {
    private let fd: Int32
    private var tls: TLSServerContext?   // confined to acceptQueue
    private let queues: IOQueuePool
    private let maxOutboundBytes: Int
    private let onConnection: @Sendable (Connection) -> Void
    private let acceptQueue: DispatchQueue

    public let localPort: Int
    public let localHost: String

    // Confined to acceptQueue.
    private var source: DispatchSourceRead?
    private var sourceSuspended = false
    private var stopped = false
    private var lastResourceWarning: DispatchTime = .init(uptimeNanoseconds: 0)

    /// host: numeric IPv4/IPv6 or a name (getaddrinfo, AI_PASSIVE; binds the first result);
    /// "::" listens dual-stack (IPV6_V6ONLY=0). port 0 = any free port. tls nil = plaintext.
    /// onConnection is called for each accepted socket, on the connection's queue, BEFORE
    /// start(); the callee sets connection.handler and calls connection.start().
    public init(host: String, port: Int, tls: TLSServerContext?, queues: IOQueuePool,
                maxOutboundBytes: Int = 1 << 20,
                onConnection: @escaping @Sendable (Connection) -> Void) throws {
        self.tls = tls
        self.queues = queues
        self.maxOutboundBytes = maxOutboundBytes
        self.onConnection = onConnection
        self.acceptQueue = DispatchQueue(label: "partnerline.accept.\(host).\(port)")

        let info = try Socket.resolve(host: host, port: port, passive: true)
        defer { freeaddrinfo(info) }
        let ai = info.pointee
        let fd = socket(ai.ai_family, ai.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        ai.ai_protocol)
        guard fd >= 0 else { throw TransportError.posix("socket") }
        var ok = false
        defer { if !ok { _ = Glibc.close(fd) } }

        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if ai.ai_family == AF_INET6 {
            // "::" means every address, IPv4 included; a specific IPv6 address is IPv6 only anyway.
            var v6only: Int32 = 0
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &v6only, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 else {
            throw TransportError.posix("bind \(host):\(port)")
        }
        guard listen(fd, 1024) == 0 else { throw TransportError.posix("listen \(host):\(port)") }

        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { throw TransportError.posix("getsockname") }
        let name = Socket.peerAddress(storage, length)
        self.localHost = name.host
        self.localPort = name.port
        self.fd = fd
        ok = true
    }

    deinit {
        // If start() was called, the source's cancel handler owns the fd. The source holds
        // only a weak reference to us, so cancel it here.
        if let source {
            source.cancel()
            if sourceSuspended { source.resume() }
        } else if !stopped {
            _ = Glibc.close(fd)
        }
    }

    /// New connections use `context` from now on (certificate reload); connections already
    /// accepted keep the SSL_CTX they began with (each SSL* holds a reference to it).
    /// Ignored on a plaintext listener.
    public func replaceTLSContext(_ context: TLSServerContext) {
        acceptQueue.sync {
            if tls != nil { tls = context }
        }
    }

    public func start() {
        acceptQueue.sync {
            guard source == nil, !stopped else { return }
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
            let fd = self.fd
            source.setEventHandler { @Sendable [weak self] in self?.acceptBatch() }
            source.setCancelHandler { @Sendable in _ = Glibc.close(fd) }
            self.source = source
            source.resume()
        }
    }

    /// Stops accepting; the listening socket is closed in the source's cancel handler.
    /// Connections already accepted are not affected. Idempotent.
    public func stop() {
        acceptQueue.sync {
            guard !stopped else { return }
            stopped = true
            if let source {
                source.cancel()
                if sourceSuspended {
                    source.resume()
                    sourceSuspended = false
                }
            } else {
                _ = Glibc.close(fd)
            }
        }
    }

    /// Accepts until EAGAIN. On EMFILE/ENFILE/ENOBUFS/ENOMEM the source is paused for
    /// 100 ms (the pending connections wait in the backlog) instead of spinning.
    /// Accepted connections go to their slots in one block per slot (a burst of connects wakes
    /// each I/O queue once, not once per connection).
    private func acceptBatch() {
        var handOff = SlotHandOff(onConnection: onConnection)
        defer { handOff.send() }
        while !stopped {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    accept(fd, $0, &length)   // accept4 is not visible to Swift's Glibc module
                }
            }
            if client < 0 {
                let code = errno
                switch code {
                case EAGAIN, EWOULDBLOCK:
                    return
                case EINTR, ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    pauseAccepting(code)
                    return
                default:
                    TransportSetup.log("accept on port \(localPort): \(TransportError.errnoText(code))")
                    return
                }
            }
            Socket.setNonBlockingCloseOnExec(client)
            Socket.setNoDelay(client)
            let peer = Socket.peerAddress(storage, length)
            var stream: TLSStream?
            if let tls {
                do {
                    stream = try TLSStream(server: tls, fd: client)
                } catch {
                    TransportSetup.log("TLS setup for \(peer): \(error)")
                    _ = Glibc.close(client)
                    continue
                }
            }
            let slot = queues.nextSlot()
            let connection = Connection(fd: client, tls: stream, slot: slot, peer: peer,
                                        maxOutboundBytes: maxOutboundBytes)
            handOff.add(connection, to: slot)
        }
    }

    private func pauseAccepting(_ code: Int32) {
        guard let source, !sourceSuspended else { return }
        let now = DispatchTime.now()
        if now.uptimeNanoseconds >= lastResourceWarning.uptimeNanoseconds + 5_000_000_000 {
            lastResourceWarning = now
            TransportSetup.log("accept on port \(localPort): \(TransportError.errnoText(code)); pausing accepts")
        }
        source.suspend()
        sourceSuspended = true
        acceptQueue.asyncAfter(deadline: .now() + .milliseconds(100)) { @Sendable [weak self] in
            guard let self, self.sourceSuspended, !self.stopped else { return }
            self.sourceSuspended = false
            self.source?.resume()
        }
    }
}

/// Accepted connections grouped by I/O slot, handed over in one block per slot. A group is
/// sent once it holds `groupSize` (a long burst does not hold the first connections back)
/// and at the end of the accept batch.
private struct SlotHandOff {
    static let groupSize = 32

    let onConnection: @Sendable (Connection) -> Void
    private var groups: [(slot: IOSlot, connections: [Connection])] = []

    init(onConnection: @escaping @Sendable (Connection) -> Void) {
        self.onConnection = onConnection
    }

    mutating func add(_ connection: Connection, to slot: IOSlot) {
        let index: Int
        if let found = groups.firstIndex(where: { $0.slot === slot }) {
            index = found
        } else {
            groups.append((slot, []))
            index = groups.count - 1
        }
        groups[index].connections.append(connection)
        if groups[index].connections.count >= SlotHandOff.groupSize {
            Self.send(groups[index].connections, to: slot, onConnection)
            groups[index].connections.removeAll()
        }
    }

    mutating func send() {
        for group in groups where !group.connections.isEmpty {
            Self.send(group.connections, to: group.slot, onConnection)
        }
        groups.removeAll()
    }

    private static func send(_ connections: [Connection], to slot: IOSlot,
                             _ onConnection: @escaping @Sendable (Connection) -> Void) {
        slot.queue.async { @Sendable in
            for connection in connections { onConnection(connection) }
        }
    }
}
