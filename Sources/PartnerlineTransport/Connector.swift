import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Dials out: a TCP connection (TLS or plaintext) owned by one of a pool's I/O queues, driven by
/// the same non-blocking `Connection` as accepted sockets. The TCP connect itself blocks the
/// caller (bounded by `timeoutSeconds`); the TLS handshake and everything after is non-blocking.
public enum Connector {
    /// Returns a connection that is not started yet: set its handler, then call `start()` on
    /// `connection.queue`. Our ClientHello goes out at `start()`.
    public static func connect(host: String, port: Int, tls: TLSClientContext?, queues: IOQueuePool,
                               maxOutboundBytes: Int = 16 << 20, timeoutSeconds: Int = 10) throws -> Connection {
        let list = try Socket.resolve(host: host, port: port, passive: false)
        defer { freeaddrinfo(list) }
        var lastError = TransportError("no address for \(host):\(port)")
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = .posix("socket")
                continue
            }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                lastError = .posix("connect to \(host):\(port)")
                _ = Glibc.close(fd)
                continue
            }
            Socket.setNonBlockingCloseOnExec(fd)
            Socket.setNoDelay(fd)
            var storage = sockaddr_storage()
            withUnsafeMutableBytes(of: &storage) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen)))
            }
            let peer = Socket.peerAddress(storage, info.pointee.ai_addrlen)
            var stream: TLSStream?
            if let tls {
                do {
                    // Expects `host` in the certificate when the context verifies (TLSStream).
                    stream = try TLSStream(client: tls, fd: fd, serverName: host)
                } catch {
                    _ = Glibc.close(fd)
                    throw error
                }
            }
            return Connection(fd: fd, tls: stream, slot: queues.nextSlot(), peer: peer,
                              maxOutboundBytes: maxOutboundBytes, isClient: true)
        }
        throw lastError
    }
}

extension IOQueuePool {
    /// How many serial I/O queues the pool has.
    public var count: Int { slots.count }

    /// Waits until every queue has run what was queued on it so far.
    public func drainAll() {
        for slot in slots { slot.queue.sync {} }
    }
}
