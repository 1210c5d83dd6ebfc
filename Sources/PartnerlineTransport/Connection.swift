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
    case handshakeFailed(String)
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
/// keeps itself alive (like a channel registered with an event loop), so a handler need
/// not store it. `handler` is a strong reference; the connection sets it to nil right
/// after `connectionClosed`, which breaks the usual handler <-> connection cycle.
/// A connection that is never started closes its socket when it is deinitialised.
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

    private let fd: Int32
    private let slot: IOSlot
    /// The TLS session (owns the SSL*), nil for plaintext.
    private let tls: TLSStream?
    private var state: State = .created
    private var keepAlive: Connection?

    private var readSource: DispatchSourceRead?
    /// Made on first need (a write that blocked, a handshake or read that wants to write): most
    /// connections never fill their socket buffer, and an idle one then keeps one source, not two.
    private var writeSource: DispatchSourceWrite?
    /// Closes the fd once every source made on it has been cancelled.
    private var closer: FDCloser?
    private var readSuspended = false
    private var writeResumed = false

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

    /// Read at most this much per readable event before yielding the queue to others
    /// (the read source is level-triggered, so the rest comes on the next turn).
    private static let readBudget = 64 * 1024

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
        if readSource == nil {
            // Never started: nobody else will close the socket.
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
        keepAlive = self

        let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
        // The fd is closed only after every source on it is cancelled. The closer does not
        // depend on `self`, so the socket is closed even if the connection is gone by then.
        let closer = FDCloser(fd: fd)
        closer.sourceMade()
        // Strong captures: a weak reference would give every connection a side table (more
        // bytes per idle connection). The cycle source -> handler -> self ends at `terminate`:
        // libdispatch releases a source's handlers once its cancellation has completed.
        read.setEventHandler { @Sendable in self.handleReadable() }
        read.setCancelHandler { @Sendable in closer.sourceCancelled() }
        readSource = read
        self.closer = closer

        if isTLS {
            state = .handshaking
            read.resume()
            if isClient { handshake() }
        } else {
            state = .open
            read.resume()
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

    private func handleReadable() {
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
        updateWriteSource()
    }

    // MARK: handshake

    private func handshake() {
        guard let tls else { return }
        switch tls.handshake() {
        case .done:
            state = .open
            handshakeWantsWrite = false
            updateWriteSource()
            handler?.connectionReady(self)
            guard state == .open else { return }
            if pendingOutboundBytes > 0 { scheduleFlush() }
            // Application data may already sit in OpenSSL's buffer with the last handshake flight
            // (read ahead, not yet decrypted: SSL_pending would not count it).
            if tls.hasBufferedBytes { readTLS() }
            return
        case .wantRead:
            handshakeWantsWrite = false
        case .wantWrite:
            handshakeWantsWrite = true
        case .closedCleanly, .closedAbruptly:
            terminate(.handshakeFailed("peer closed during handshake"))
            return
        case .failed(let error):
            // The text says why a certificate was refused ("hostname mismatch", ...).
            terminate(.handshakeFailed("\(error) (peer \(peer))"))
            return
        }
        updateWriteSource()
    }

    // MARK: reading

    private func readTLS() {
        guard let tls else { return }
        let buffer = slot.readBuffer
        var total = 0
        while state == .open {
            switch tls.read(into: buffer, capacity: IOSlot.readBufferSize) {
            case .done(let n):
                total += n
                handler?.connection(self, didReceive: UnsafeRawBufferPointer(start: buffer, count: n))
                // Keep going while OpenSSL holds bytes, decrypted or read ahead (the socket will
                // not signal them). Once it holds none, stop: with read-ahead the last read took
                // what the socket had, and if more came since, the level-triggered source brings
                // us back; trying again here would mostly cost a `read` that fails with EAGAIN.
                if !tls.hasBufferedBytes { return }
                if total >= Connection.readBudget {
                    // Yield the queue to other connections; what OpenSSL holds is read on the next
                    // turn (the socket may have nothing left to signal it).
                    queue.async { @Sendable in self.handleReadable() }
                    return
                }
            case .wantRead:
                return
            case .wantWrite:
                readWantsWrite = true
                updateWriteSource()
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
        while state == .open {
            let n = recv(fd, buffer, IOSlot.readBufferSize, 0)
            if n > 0 {
                total += n
                handler?.connection(self, didReceive: UnsafeRawBufferPointer(start: buffer, count: n))
                // A short read emptied the socket: the level-triggered source reports more.
                if n < IOSlot.readBufferSize || total >= Connection.readBudget { return }
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

    private func suspendReading() {
        guard let readSource, !readSuspended else { return }
        readSource.suspend()
        readSuspended = true
    }

    // MARK: writing

    private func scheduleFlush() {
        // While the write source is armed, the writable event flushes; no extra turn needed.
        guard !flushScheduled, !writeBlocked, state != .handshaking, state != .created else { return }
        flushScheduled = true
        slot.requestFlush(self)
    }

    /// The slot's end-of-turn flush (see `IOSlot.requestFlush`).
    func flushFromSlot() {
        flushScheduled = false
        flushNow()
    }

    /// Writes as much of the pending output as the socket takes; keeps the rest and arms
    /// the write source when blocked. Finishes a flush-close when everything is out.
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
        updateWriteSource()
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

    /// Arms the write source only while something waits for writability; balanced.
    private func updateWriteSource() {
        let wanted = state != .closed && (writeBlocked || readWantsWrite || handshakeWantsWrite)
        guard let writeSource = wanted ? writeSourceMadeIfNeeded() : self.writeSource else { return }
        if wanted && !writeResumed {
            writeSource.resume()
            writeResumed = true
        } else if !wanted && writeResumed {
            writeSource.suspend()
            writeResumed = false
        }
    }

    /// The write source, made (suspended) the first time it is wanted; nil before `start()`.
    private func writeSourceMadeIfNeeded() -> DispatchSourceWrite? {
        if let writeSource { return writeSource }
        guard let closer else { return nil }
        let write = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
        closer.sourceMade()
        write.setEventHandler { @Sendable in self.handleWritable() }
        write.setCancelHandler { @Sendable in closer.sourceCancelled() }
        writeSource = write   // suspended until updateWriteSource resumes it
        writeResumed = false
        return write
    }

    // MARK: closing

    /// Everything is written: send close_notify once (best effort, not waiting for the peer's),
    /// half-close the socket, then tear down.
    private func finishClose() {
        tls?.shutdown()
        _ = shutdown(fd, Int32(SHUT_WR))
        terminate(.localClose)
    }

    /// The single exit: cancels the sources (resuming suspended ones first so the cancel
    /// handlers run and close the fd), reports the reason once, drops the handler and the
    /// self-reference.
    private func terminate(_ reason: CloseReason) {
        guard state != .closed else { return }
        state = .closed
        outbound = []
        outboundStart = 0
        if let readSource {
            readSource.cancel()
            if readSuspended { readSource.resume(); readSuspended = false }
        }
        if let writeSource {
            writeSource.cancel()
            if !writeResumed { writeSource.resume() }
            writeResumed = false
        }
        let handler = self.handler
        self.handler = nil
        handler?.connectionClosed(self, reason: reason)
        keepAlive = nil
    }
}

/// Closes the fd once every DispatchSource made on it has been cancelled.
private final class FDCloser: @unchecked Sendable {
    private let fd: Int32
    /// Touched only on the connection's serial queue: sources are made there, and their cancel
    /// handlers run there. Every source is made before any is cancelled (`terminate` cancels
    /// them all at once, and no source is made after it).
    private var remaining = 0

    init(fd: Int32) { self.fd = fd }

    func sourceMade() { remaining += 1 }

    func sourceCancelled() {
        remaining -= 1
        if remaining == 0 {
            _ = Glibc.close(fd)
        }
    }
}
