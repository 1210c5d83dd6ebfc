import CEpoll
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct PeerAddress: Sendable, CustomStringConvertible {
    /// Numeric, e.g. "127.0.0.1" or "::1" (an IPv4 peer on a dual-stack socket appears as
    /// "::ffff:127.0.0.1").
    public let host: String
    public let port: Int
    /// 127.0.0.0/8, ::1, ::ffff:127.x.x.x
    public let isLoopback: Bool

    public init(host: String, port: Int, isLoopback: Bool) {
        self.host = host
        self.port = port
        self.isLoopback = isLoopback
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

public enum CloseReason: Sendable, Equatable {
    /// EOF or close_notify (EOF without close_notify is normal, trap 4).
    case peerClosed
    /// close(...) was called.
    case localClose
    /// Pending output passed maxOutboundBytes.
    case outboundOverflow
    /// The handshake was refused: a certificate not verified (CA, name), an alert from the peer
    /// (protocol, cipher), bytes that are not TLS. Trying again would meet the same refusal.
    case handshakeFailed(String)
    /// The peer went away before the handshake finished: EOF (with or without close_notify),
    /// a reset, a broken pipe. A transport failure like a refused connect, not a refusal
    /// (a server restarting, a proxy dropping connections): worth retrying.
    case handshakeInterrupted(String)
    case ioError(String)
}

/// Everything a connection reports; all calls arrive on the connection's queue.
public protocol ConnectionHandler: AnyObject {
    /// After the TLS handshake (at once for plaintext).
    func connectionReady(_ connection: Connection)
    /// `bytes` is valid only during the call (it points into the queue's shared read buffer).
    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer)
    /// Exactly once, and the last call.
    func connectionClosed(_ connection: Connection, reason: CloseReason)
}

private let connectionIDs = Locked<UInt64>(0)

/// One accepted socket, TLS or plaintext, confined to `queue`.
///
/// Lifetime: from `start()` until `connectionClosed` has been delivered the connection
/// is kept alive by its I/O slot, whose epoll set it is registered in (like a channel
/// registered with an event loop), so a handler need not store it. `handler` is a strong reference; the connection sets it to nil right
/// after `connectionClosed`, which breaks the usual handler <-> connection cycle.
/// A connection that is never started closes its socket when it is deinitialised.
///
/// Wake-ups: the connection has no event source of its own. Its socket sits in its slot's
/// epoll set (edge-triggered, see `IOSlot`), and the slot's turn calls `handleEvents`. Because
/// an edge is reported once, every read goes on until the socket (and OpenSSL) is drained, or
/// until the per-turn budget, after which the slot's "ready again" list brings it back.
public final class Connection: @unchecked Sendable {
    public let queue: DispatchQueue
    public let peer: PeerAddress
    public let isTLS: Bool
    /// Process-unique.
    public let id: UInt64
    /// Strong; cleared by the connection after `connectionClosed`. Set it before `start()`.
    public var handler: ConnectionHandler?

    /// Bytes appended by send() and not yet taken by the socket / SSL_write.
    public var pendingOutboundBytes: Int { outbound.count - outboundStart }

    public let maxOutboundBytes: Int

    /// Bytes the outbound buffer holds room for, written or not (tests). On `queue`.
    var outboundCapacity: Int { outbound.capacity }

    // MARK: private state (all confined to `queue`)

    private enum State { case created, handshaking, open, closing, closed }

    let fd: Int32
    let slot: IOSlot
    /// The TLS session (owns the SSL*), nil for plaintext.
    private let tls: TLSStream?
    private var state: State = .created

    /// The slot's token for this socket while it is in the slot's epoll set.
    private var pollToken: UInt64?
    /// Reading stopped (a flush-close): readable events are ignored.
    private var readSuspended = false

    private var outbound: [UInt8] = []
    private var outboundStart = 0
    private var flushScheduled = false

    /// Last write attempt could not finish (EAGAIN / `TLSResult.wantWrite`).
    private var writeBlocked = false
    /// A TLS read wanted to write (`TLSResult.wantWrite`): retry the read when writable.
    private var readWantsWrite = false
    /// A TLS write wanted to read (`TLSResult.wantRead`): retry the write when readable.
    private var writeWantsRead = false
    /// The handshake wanted to write.
    private var handshakeWantsWrite = false

    /// Read at most this much per turn before yielding the queue to others. Readiness is
    /// edge-triggered, so a connection that stops here with bytes left is put on the slot's
    /// "ready again" list and reads on in the next turn without waiting for a new edge.
    static let readBudget = 64 * 1024

    /// Dialled out (Connector): the TLS handshake starts with our ClientHello, not the peer's.
    private let isClient: Bool

    init(fd: Int32, tls: TLSStream?, slot: IOSlot, peer: PeerAddress, maxOutboundBytes: Int, isClient: Bool = false) {
        self.fd = fd
        self.isClient = isClient
        self.tls = tls
        self.slot = slot
        self.queue = slot.queue
        self.peer = peer
        self.isTLS = tls != nil
        self.maxOutboundBytes = maxOutboundBytes
        self.id = connectionIDs.withLock { value in
            value += 1
            return value
        }
    }

    deinit {
        // The TLSStream frees its SSL* when it goes with us.
        if state == .created {
            // Never started nor closed: nobody else will close the socket.
            _ = Glibc.close(fd)
        }
    }

    @inline(__always)
    private func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(queue))
        #endif
    }

    // MARK: public API

    /// Begins the handshake (TLS) or reading (plaintext). Call once, on `queue`
    /// (onConnection runs there).
    public func start() {
        assertOnQueue()
        guard state == .created else { return }
        // From here the slot's registry keeps the connection alive until `terminate`.
        guard let token = slot.add(self, fd: fd) else {
            terminate(.ioError(TransportError.posix("epoll_ctl(ADD) for \(peer)").description))
            return
        }
        pollToken = token

        if isTLS {
            state = .handshaking
            if isClient { handshake() }
        } else {
            state = .open
            handler?.connectionReady(self)
            if state == .open && pendingOutboundBytes > 0 { scheduleFlush() }   // sent before start()
        }
    }

    /// Appends bytes to the outbound buffer and schedules one coalesced flush (several sends
    /// in the same queue turn become one SSL_write). If buffered output would exceed
    /// maxOutboundBytes, the connection closes with .outboundOverflow. Ignored once closing.
    public func send(_ bytes: [UInt8]) {
        assertOnQueue()
        guard state == .open || state == .handshaking || state == .created else { return }
        if pendingOutboundBytes + bytes.count > maxOutboundBytes {
            terminate(.outboundOverflow)
            return
        }
        if outboundStart > 0 && outboundStart == outbound.count {
            outbound.removeAll(keepingCapacity: true)
            outboundStart = 0
        }
        outbound.append(contentsOf: bytes)
        scheduleFlush()
    }

    /// Appends several lines at once (one overflow check, one scheduled flush): a fan-out batch.
    public func send(contentsOf lines: [[UInt8]]) {
        assertOnQueue()
        guard state == .open || state == .handshaking || state == .created else { return }
        var total = 0
        for line in lines { total += line.count }
        if pendingOutboundBytes + total > maxOutboundBytes {
            terminate(.outboundOverflow)
            return
        }
        if outboundStart > 0 && outboundStart == outbound.count {
            outbound.removeAll(keepingCapacity: true)
            outboundStart = 0
        }
        for line in lines { outbound.append(contentsOf: line) }
        scheduleFlush()
    }

    /// Stops reading; if flush is true, writes what is pending first, then sends TLS
    /// close_notify (not waiting for the peer's) and closes. Idempotent.
    /// close(flush: false) always closes at once, also while a flush-close is under way.
    /// Writes pending output now, as much as the socket takes, instead of on the scheduled
    /// flush: for a caller about to judge `pendingOutboundBytes` (a slow-consumer bound), so
    /// that bytes the kernel would accept at once do not count as unread. Must be called on `queue`.
    public func writePendingNow() {
        assertOnQueue()
        guard !writeBlocked else { return }
        flushNow()
    }

    public func close(flush: Bool) {
        assertOnQueue()
        switch state {
        case .closed:
            return
        case .closing:
            if !flush { terminate(.localClose) }
            return
        case .created, .handshaking:
            terminate(.localClose)
        case .open:
            guard flush else {
                terminate(.localClose)
                return
            }
            state = .closing
            suspendReading()
            flushNow()
        }
    }

    /// SHA-256 (lower-case hex) of the certificate the client presented, if any (only asked for
    /// when the TLS context requests client certificates). On `queue`, after the handshake.
    public func peerCertificateSHA256Hex() -> String? {
        assertOnQueue()
        return tls?.peerCertificateSHA256Hex()
    }

    // MARK: events

    /// One epoll event from the slot's turn (`events` is the epoll bit set). Writable first, so
    /// output that was blocked goes out before new input makes more.
    func handleEvents(_ events: UInt32) {
        let failed = events & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
        if events & EPOLLOUT.rawValue != 0 || failed, writeBlocked || readWantsWrite || handshakeWantsWrite {
            handleWritable()
        }
        // EPOLLRDHUP (the peer's FIN) and errors: the read finds the EOF or the error.
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 || failed {
            handleReadable()
        }
    }

    /// The slot's "ready again" list: this connection stopped at its read budget last turn.
    func readOnFromSlot() {
        handleReadable()
    }

    private func handleReadable() {
        guard !readSuspended else { return }
        switch state {
        case .handshaking:
            handshake()
        case .open:
            if writeWantsRead {
                writeWantsRead = false
                flushNow()
                guard state == .open else { return }
            }
            if isTLS { readTLS() } else { readPlain() }
        case .created, .closing, .closed:
            return
        }
    }

    private func handleWritable() {
        switch state {
        case .handshaking:
            handshakeWantsWrite = false
            handshake()
        case .open, .closing:
            if readWantsWrite {
                readWantsWrite = false
                if state == .open { readTLS() }
            }
            guard state == .open || state == .closing else { return }
            writeBlocked = false
            flushNow()
        case .created, .closed:
            return
        }
    }

    // MARK: handshake

    private func handshake() {
        guard let tls else { return }
        switch tls.handshake() {
        case .done:
            state = .open
            handshakeWantsWrite = false
            handler?.connectionReady(self)
            guard state == .open else { return }
            if pendingOutboundBytes > 0 { scheduleFlush() }
            // Application data may have come with the last handshake flight, in OpenSSL's buffer
            // (read ahead, not yet decrypted) or still in the socket, whose edge the handshake
            // has consumed: read now, until OpenSSL wants more from the socket.
            readTLS()
            return
        case .wantRead:
            handshakeWantsWrite = false
        case .wantWrite:
            handshakeWantsWrite = true
        case .closedCleanly:
            terminate(.handshakeInterrupted("peer closed during the TLS handshake (close_notify) (peer \(peer))"))
            return
        case .closedAbruptly:
            terminate(.handshakeInterrupted("peer closed during the TLS handshake (EOF) (peer \(peer))"))
            return
        case .failed(let error) where error.kind == .connectionLost:
            terminate(.handshakeInterrupted("\(error) (peer \(peer))"))
            return
        case .failed(let error):
            // The text says why a certificate was refused ("hostname mismatch", ...).
            terminate(.handshakeFailed("\(error) (peer \(peer))"))
            return
        }
    }

    // MARK: reading

    private func readTLS() {
        guard let tls else { return }
        let buffer = slot.readBuffer
        var total = 0
        while state == .open && !readSuspended {
            switch tls.read(into: buffer, capacity: IOSlot.readBufferSize) {
            case .done(let n):
                total += n
                handler?.connection(self, didReceive: UnsafeRawBufferPointer(start: buffer, count: n))
                // Edge-triggered: go on until the read wants more from the socket (its `read`
                // met EAGAIN). Stopping when OpenSSL holds nothing would not do: with read-ahead
                // the last `read` may have filled OpenSSL's buffer to a record boundary and left
                // more in the socket, which no new edge would report.
                if total >= Connection.readBudget {
                    // Yield the queue to other connections; the rest (in OpenSSL or the socket)
                    // is read next turn.
                    if state == .open { slot.readAgain(self) }
                    return
                }
            case .wantRead:
                return
            case .wantWrite:
                readWantsWrite = true   // the writable edge retries the read
                return
            case .closedCleanly, .closedAbruptly:
                // EOF without close_notify is a normal close for a line protocol (trap 4).
                terminate(.peerClosed)
                return
            case .failed(let error):
                terminate(.ioError("\(error) (peer \(peer))"))
                return
            }
        }
    }

    private func readPlain() {
        let buffer = slot.readBuffer
        var total = 0
        while state == .open && !readSuspended {
            let n = recv(fd, buffer, IOSlot.readBufferSize, 0)
            if n > 0 {
                total += n
                handler?.connection(self, didReceive: UnsafeRawBufferPointer(start: buffer, count: n))
                // A short read emptied the socket's queue (epoll(7): "you can be sure of having
                // exhausted the read I/O space"); bytes arriving after it raise a new edge. This
                // saves the `recv` that would only fail with EAGAIN.
                if n < IOSlot.readBufferSize { return }
                if total >= Connection.readBudget {
                    if state == .open { slot.readAgain(self) }
                    return
                }
                continue
            }
            if n == 0 {
                terminate(.peerClosed)
                return
            }
            let code = errno
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK { return }
            terminate(.ioError(TransportError.posix("read from \(peer)", code).description))
            return
        }
    }

    /// Stops reading: readable events and the "ready again" list are ignored from now on. The
    /// socket stays in the epoll set (writability still matters while output drains).
    private func suspendReading() {
        readSuspended = true
    }

    // MARK: writing

    private func scheduleFlush() {
        // While a write is blocked, the writable edge flushes; no extra turn needed.
        guard !flushScheduled, !writeBlocked, state != .handshaking, state != .created else { return }
        flushScheduled = true
        slot.requestFlush(self)
    }

    /// The slot's end-of-turn flush (see `IOSlot.requestFlush`).
    func flushFromSlot() {
        flushScheduled = false
        flushNow()
    }

    /// Writes as much of the pending output as the socket takes; keeps the rest when blocked
    /// (the writable edge after EAGAIN brings us back). Finishes a flush-close when everything
    /// is out.
    private func flushNow() {
        guard state == .open || state == .closing else { return }
        while pendingOutboundBytes > 0 {
            let outcome = isTLS ? writeTLSOnce() : writePlainOnce()
            switch outcome {
            case .wrote(let n):
                outboundStart += n
            case .blocked:
                writeBlocked = true
            case .wantsRead:
                if state == .closing {
                    // Reading is stopped; give up on the rest rather than wait forever.
                    terminate(.localClose)
                    return
                }
                writeWantsRead = true
            case .failed(let message):
                terminate(.ioError(message))
                return
            }
            if writeBlocked || writeWantsRead { break }
        }
        compactOutbound()
        if state == .closing && pendingOutboundBytes == 0 {
            finishClose()
        }
    }

    private enum WriteOutcome { case wrote(Int), blocked, wantsRead, failed(String) }

    private func writeTLSOnce() -> WriteOutcome {
        guard let tls else { return .failed("no TLS session") }
        // Same bytes at the same offset after a WANT_WRITE/WANT_READ (trap 3); the buffer may
        // have moved or grown, which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows.
        let result = outbound.withUnsafeBytes {
            tls.write(from: $0.baseAddress! + outboundStart, count: pendingOutboundBytes)
        }
        switch result {
        case .done(let n):
            return .wrote(n)
        case .wantWrite:
            return .blocked
        case .wantRead:
            return .wantsRead
        case .closedCleanly, .closedAbruptly:
            return .failed("TLS write: the peer closed the connection (peer \(peer))")
        case .failed(let error):
            return .failed("\(error) (peer \(peer))")
        }
    }

    private func writePlainOnce() -> WriteOutcome {
        while true {
            let n = outbound.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + outboundStart, pendingOutboundBytes, Int32(MSG_NOSIGNAL))
            }
            if n > 0 { return .wrote(n) }
            let code = errno
            if n < 0 && code == EINTR { continue }
            if n < 0 && (code == EAGAIN || code == EWOULDBLOCK) { return .blocked }
            return .failed(TransportError.posix("write to \(peer)", code).description)
        }
    }

    /// Frees the outbound buffer if everything in it has been written: an idle connection then
    /// keeps no buffer from its last reply (the flush keeps up to `keptOutboundCapacity`). For
    /// a periodic sweep, not per flush. On `queue`.
    public func releaseDrainedOutput() {
        assertOnQueue()
        guard outboundStart == outbound.count, outbound.capacity > 0 else { return }
        outbound = []
        outboundStart = 0
    }

    /// A drained outbound buffer up to this capacity is kept for the next flush (a few lines:
    /// most flushes then allocate nothing); a bigger one, grown by a burst, is freed at once.
    /// (With up to 64 KiB kept, every connection that once took a burst held its high-water mark
    /// until the next sweep, and under steady traffic the sweep never found it drained: 200
    /// fan-out members held 2-3 MiB more.)
    static let keptOutboundCapacity = 4096

    private func compactOutbound() {
        if outboundStart == outbound.count {
            // Drained: keep a small buffer for the next flush, give back what a burst grew.
            outbound.removeAll(keepingCapacity: outbound.capacity <= Connection.keptOutboundCapacity)
            outboundStart = 0
        } else if outboundStart >= 64 * 1024 && outboundStart * 2 >= outbound.count {
            outbound.removeSubrange(0..<outboundStart)
            outboundStart = 0
        }
    }

    // MARK: closing

    /// Everything is written: send close_notify once (best effort, not waiting for the peer's),
    /// half-close the socket, then tear down.
    private func finishClose() {
        tls?.shutdown()
        _ = shutdown(fd, Int32(SHUT_WR))
        terminate(.localClose)
    }

    /// The single exit: takes the socket out of the slot's epoll set, then closes it (in that
    /// order: once closed, the fd number may belong to a new connection at once), reports the
    /// reason once and drops the handler. The slot's registry let go of the connection; the
    /// caller's reference (the turn's, or the handler's) keeps it alive to the end of this call.
    private func terminate(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        outbound = []
        outboundStart = 0
        if let pollToken {
            slot.remove(token: pollToken, fd: fd)
            self.pollToken = nil
        }
        _ = Glibc.close(fd)
        let handler = self.handler
        self.handler = nil
        handler?.connectionClosed(self, reason: reason)
    }
}
