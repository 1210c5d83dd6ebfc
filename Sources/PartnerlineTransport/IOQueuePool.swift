import CEpoll
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One I/O thread's worth of connections: a serial queue, one epoll set holding every
/// connection the queue owns, one `DispatchSourceRead` on that epoll fd, and the single
/// 16 KiB read buffer they all share (idle connections then cost no read buffer of their own).
///
/// Why one source per slot instead of one per connection: libdispatch turns every readable
/// event of a per-connection source into a manager-thread `epoll_wait`, a `FIONREAD` `ioctl`,
/// two `epoll_ctl` (disarm, re-arm) and a worker wake-up. Here the kernel keeps the
/// connections' readiness in the slot's own epoll set; libdispatch watches only that set's fd,
/// so its per-event cost is paid once per queue turn, however many sockets became ready.
///
/// A turn (`runTurn`, always on `queue`):
/// 1. connections that stopped at their read budget in an earlier turn read on (no new edge
///    will come for bytes already waiting);
/// 2. `epoll_wait` with timeout 0 into a fixed array, repeated while the array comes back full
///    (at most `maxBatchesPerTurn` times, so deliveries queued by the shards are not starved);
///    each event goes to the connection its token names;
/// 3. the end-of-turn flush: every connection that produced output in the turn writes it in
///    one go (one `SSL_write`/`send` per connection, not one per line).
///
/// Registration: each connection is added once with `EPOLLIN | EPOLLOUT | EPOLLRDHUP |
/// EPOLLET` and never modified (see `interest`), and removed (`EPOLL_CTL_DEL`) before its fd is
/// closed; its `epoll_data` is a `PollRegistry` token, so an event already fetched for a
/// connection that closed meanwhile resolves to nothing (fd numbers are reused at once).
final class IOSlot: @unchecked Sendable {
    static let readBufferSize = 16 * 1024
    /// Events fetched per `epoll_wait` (12 bytes each).
    static let eventCapacity: Int32 = 256
    /// A turn fetches at most this many full batches; if more are ready, the epoll fd is still
    /// readable and libdispatch runs the next turn after the blocks queued meanwhile.
    static let maxBatchesPerTurn = 4

    /// Edge-triggered, everything at once, never re-armed: a connection costs one `epoll_ctl`
    /// to join and one to leave, and none in between. `EPOLLOUT` is in the set from the start
    /// instead of being added while output is blocked (which would cost two `epoll_ctl` per
    /// blocked write): with `EPOLLET` the kernel reports writability only on a change, i.e.
    /// after a write hit `EAGAIN` and the peer's ACKs freed space (a TCP socket signals write
    /// space only when a writer ran out of it), so an unblocked connection gets no writable
    /// wake-ups of its own. The `EPOLLOUT` bit also rides along on read events (the poll
    /// reports the full state); `Connection.handleEvents` ignores it unless it waits to write.
    static let interest = EPOLLIN.rawValue | EPOLLOUT.rawValue | EPOLLRDHUP.rawValue | EPOLLET.rawValue

    let queue: DispatchQueue
    /// Touched only on `queue`, and only for the duration of one read + delivery.
    let readBuffer: UnsafeMutableRawPointer

    // All below confined to `queue`.
    private let epollFD: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private var source: DispatchSourceRead?
    private var registry = PollRegistry<Connection>()
    /// True while a turn runs: output requested then is flushed at the end of the turn.
    private var inTurn = false

    /// Connections that used their read budget and have more to read (bytes in the socket or
    /// in OpenSSL), served at the start of the next turn. Edge-triggered epoll will not report
    /// them again for bytes that were already there.
    private var readyAgain: [Connection] = []
    private var spareReadyAgain: [Connection] = []
    private var continuationScheduled = false

    /// Connections with output to write at the end of this queue turn: one block flushes them
    /// all, instead of one block per connection. A fan-out batch that hands lines to 200
    /// connections costs one enqueue, not 200.
    private var flushList: [Connection] = []
    private var spareFlushList: [Connection] = []
    private var flushDrainScheduled = false

    init(queue: DispatchQueue) {
        self.queue = queue
        self.readBuffer = UnsafeMutableRawPointer.allocate(byteCount: IOSlot.readBufferSize, alignment: 16)
        self.events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(IOSlot.eventCapacity))
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else {
            // At start-up, before any connection: without an epoll set the slot cannot serve any.
            fatalError("epoll_create1: \(TransportError.errnoText(errno))")
        }
        self.epollFD = epollFD
        let source = DispatchSource.makeReadSource(fileDescriptor: epollFD, queue: queue)
        // Weak: the pool (and so the slot) may go away while the source still exists; the
        // slot's deinit cancels it, and the cancel handler closes the epoll fd.
        source.setEventHandler { @Sendable [weak self] in self?.runTurn() }
        source.setCancelHandler { @Sendable in _ = Glibc.close(epollFD) }
        source.resume()
        self.source = source
    }

    deinit {
        source?.cancel()
        events.deallocate()
        readBuffer.deallocate()
    }

    // MARK: membership

    /// Adds `connection`'s socket to the epoll set. Returns the token the connection gives
    /// back to `remove`, or nil with `errno` set (ENOMEM, ENOSPC: over max_user_watches).
    /// Readiness the socket already has (a ClientHello that came before) is reported at once.
    func add(_ connection: Connection, fd: Int32) -> UInt64? {
        let token = registry.add(connection)
        var event = epoll_event()
        event.events = IOSlot.interest
        event.data.u64 = token
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            let code = errno
            registry.remove(token)
            errno = code
            return nil
        }
        return token
    }

    /// Takes the socket out of the epoll set; call before closing `fd`. After this no event
    /// reaches the connection, including one already fetched in the running turn.
    func remove(token: UInt64, fd: Int32) {
        var unused = epoll_event()   // ignored, but kernels before 2.6.9 wanted non-null
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, &unused)
        registry.remove(token)
    }

    /// Connections in the epoll set (for tests and diagnostics). On `queue`.
    var memberCount: Int { registry.count }
    /// Events dropped because their connection had left the set after the kernel queued them.
    private(set) var staleEvents = 0
    /// Times a connection stopped at its read budget and went on the "ready again" list.
    private(set) var budgetStops = 0

    /// `connection` stopped at its read budget with more to read: it reads on at the start of
    /// the next turn (scheduled now, behind the blocks already queued). On `queue`.
    func readAgain(_ connection: Connection) {
        budgetStops += 1
        readyAgain.append(connection)
        scheduleContinuation()
    }

    private func scheduleContinuation() {
        guard !continuationScheduled else { return }
        continuationScheduled = true
        queue.async { @Sendable [self] in
            continuationScheduled = false
            runTurn()
        }
    }

    // MARK: the turn

    /// The epoll source's handler (and the continuation's).
    func runTurn() {
        inTurn = true
        serveReadyAgain()
        var batches = 0
        while batches < IOSlot.maxBatchesPerTurn {
            let count = epoll_wait(epollFD, events, IOSlot.eventCapacity, 0)
            if count < 0 {
                if errno == EINTR { continue }
                TransportSetup.log("epoll_wait: \(TransportError.errnoText(errno))")
                break
            }
            for index in 0..<Int(count) {
                let event = events[index]
                // Nil when the connection left the set since the kernel queued this event.
                guard let connection = registry.member(for: event.data.u64) else {
                    staleEvents += 1
                    continue
                }
                connection.handleEvents(event.events)
            }
            batches += 1
            if count < IOSlot.eventCapacity { break }
        }
        flushRequested()
        inTurn = false
    }

    private func serveReadyAgain() {
        guard !readyAgain.isEmpty else { return }
        // Those that hit their budget again land in the other list, for the next turn: each
        // connection reads at most one budget per turn.
        swap(&readyAgain, &spareReadyAgain)
        for connection in spareReadyAgain { connection.readOnFromSlot() }
        spareReadyAgain.removeAll(keepingCapacity: spareReadyAgain.count <= 4096)
    }

    // MARK: end-of-turn flush

    /// Runs `connection.flushFromSlot()` once the current turn or block on `queue` has finished
    /// (so everything sent in this turn goes out in one write). On `queue`.
    func requestFlush(_ connection: Connection) {
        flushList.append(connection)
        // In a turn, the turn flushes at its end; otherwise (a delivery block from a shard) one
        // block queued behind the current one does.
        guard !inTurn, !flushDrainScheduled else { return }
        flushDrainScheduled = true
        queue.async { @Sendable [self] in
            flushDrainScheduled = false
            flushRequested()
        }
    }

    private func flushRequested() {
        // A flush can end a connection, and a handler told so may send to others: flush until
        // nothing more was asked for. Swapping the lists keeps either from reallocating.
        while !flushList.isEmpty {
            swap(&flushList, &spareFlushList)
            for connection in spareFlushList { connection.flushFromSlot() }
            spareFlushList.removeAll(keepingCapacity: spareFlushList.count <= 4096)
        }
    }
}

/// A fixed set of I/O slots (one per core by default); each connection is owned by one of
/// them for life.
public final class IOQueuePool: Sendable {
    let slots: [IOSlot]
    private let counter = Locked<Int>(0)

    public init(count: Int = ProcessInfo.processInfo.activeProcessorCount) {
        let n = max(1, count)
        slots = (0..<n).map { index in
            IOSlot(queue: DispatchQueue(label: "partnerline.io.\(index)", qos: .userInitiated))
        }
    }

    /// Round-robin.
    public func next() -> DispatchQueue {
        nextSlot().queue
    }

    func nextSlot() -> IOSlot {
        let index = counter.withLock { value -> Int in
            let current = value
            value = (value + 1) % slots.count
            return current
        }
        return slots[index]
    }
}
