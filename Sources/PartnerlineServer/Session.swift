import Dispatch
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineTransport

/// One client's conversation: framing, parsing, login state, joined rooms and replies.
/// Confined to its connection's queue. Commands run one at a time, so every reply goes out in
/// command order; lines that arrive meanwhile wait (up to `maxQueuedCommands`).
/// Session+Protection.swift holds its limits: fake lag, timeouts, slow consumers.
final class Session: ConnectionHandler, EventSubscriber, @unchecked Sendable {
    /// A line waiting for its turn, or one refused by flood control (answered ERR RATE_LIMITED
    /// in its turn, so replies stay in command order).
    enum Waiting {
        case line(FramedLine)
        case refused(tag: String?, verb: String)
    }

    let connection: Connection
    let service: ServiceContext
    private var framer: LineFramer
    private var waiting: [Waiting] = []
    private var waitingHead = 0
    /// `.line` entries in `waiting` not yet handled: each will take a token.
    var pendingCommands = 0
    var bucket: TokenBucket
    var clock: SessionClock
    /// Its queue's sweeper while the session is watched for timeouts (Session+Protection.swift).
    var sweeper: SessionSweeper?
    var lagWakeScheduled = false
    let addressKey: AddressKey
    /// Set when connection limits refused this connection: it only gets a BYE.
    var refusal: ConnectionLimits.Refusal?
    /// Whether the connection limiter counts this connection (released when it closes).
    var admitted = false
    /// This connection's claim on the password-hashing pool: one hash at a time, dropped once closed.
    let hashingOwner = HashingOwner()
    /// SHA-256 (lower-case hex) of the client certificate, read once after the handshake.
    var clientCertificateFingerprint: String?
    private var busy = false
    private(set) var closing = false
    /// Set at shutdown: lines already read stay unanswered; the session only waits for its BYE.
    private var draining = false

    /// Replies waiting behind a pipelined post, in command order (Session+Pipeline.swift).
    private var replyQueue: [PendingReply] = []
    private var pipelinedPosts = 0

    private(set) var account: Account?
    /// Live lines held back while LOGIN resumes the account's rooms: they go out right after
    /// `OK LOGIN`, so a client sees its `* JOINED` lines (with each room's last seq) first (Session+Resume.swift).
    var heldDuringResume: [[UInt8]]?
    /// Their size: held lines count against the same bound as unread output.
    var heldDuringResumeBytes = 0
    private(set) var joined: Set<RoomName> = []

    var subscriberID: UInt64 { connection.id }
    /// Set once at LOGIN, before the session subscribes anywhere; read by shards.
    private(set) var accountName: String = ""

    init(connection: Connection, service: ServiceContext) {
        self.connection = connection
        self.service = service
        framer = LineFramer(maxLineLength: service.config.limits.maxLineLength)
        let now = MonotonicClock.seconds()
        let flood = service.config.protection.flood
        bucket = TokenBucket(burst: flood.burst, ratePerSecond: flood.ratePerSecond, now: now)
        clock = SessionClock(timeouts: service.sessionTimeouts, now: now)
        addressKey = AddressKey(host: connection.peer.host)
    }

    // MARK: ConnectionHandler

    func connectionReady(_ connection: Connection) {
        clock.ready(now: MonotonicClock.seconds())
        if let refusal {
            return disconnect(code: "TOO_MANY_CONNECTIONS", text: refusal.message)
        }
        clientCertificateFingerprint = connection.peerCertificateSHA256Hex()
        connection.send(ServerLine.hello(serverName: service.config.serverName,
                                         text: "Partnerline coordination server. Type HELP."))
    }

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        guard !closing else { return }
        clock.heard(now: MonotonicClock.seconds())
        framer.feed(bytes) { line in waiting.append(admit(line)) }
        if waiting.count - waitingHead > service.config.limits.maxQueuedCommands {
            return disconnect(code: "RATE_LIMITED", text: "more than \(service.config.limits.maxQueuedCommands) commands waiting for replies")
        }
        runWaiting()
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        closing = true
        hashingOwner.close()   // a REGISTER/LOGIN hash not yet started is dropped
        waiting.removeAll()
        replyQueue.removeAll()
        pendingCommands = 0
        stopTimer()
        if admitted { service.limiter.release(addressKey) }
        if reason == .outboundOverflow {
            service.log.warning("slow consumer disconnected (output buffer full, no BYE)", metadata: ["peer": "\(connection.peer)", "account": "\(accountName)"])
        }
        let rooms = Array(joined)
        joined.removeAll()
        for (cluster, roomsInCluster) in Dictionary(grouping: rooms, by: \.cluster) {
            service.shard(cluster)?.unsubscribe(self, from: roomsInCluster)
        }
        service.sessionEnded(self, reason: reason)
    }

    // MARK: EventSubscriber

    var deliveryQueue: DispatchQueue { connection.queue }

    func deliverOnQueue(_ lines: [[UInt8]]) {
        guard !closing else { return }
        if heldDuringResume != nil { return hold(lines) }
        var total = 0
        for line in lines { total += line.count }
        if !isSlowConsumer(adding: total) { return connection.send(contentsOf: lines) }
        // A batch can be larger than the bound on its own: hand it over line by line, letting the
        // socket take what it will, and cut off only a reader that really leaves it unread.
        for line in lines {
            sendBounded(line)
            if closing { return }
        }
    }

    // MARK: Server-initiated

    /// Sends `BYE` and closes once it is written.
    func disconnect(code: String, text: String) {
        guard !closing else { return }
        closing = true
        stopTimer()
        connection.send(ServerLine.bye(code: code, text: text))
        connection.close(flush: true)
        closeForSureAfterGrace()
    }

    // MARK: Command loop

    func runWaiting() {
        while !busy, !closing, !draining, waitingHead < waiting.count {
            let entry = waiting[waitingHead]
            if !replyQueue.isEmpty, pipelinedPosts >= Session.maxPipelinedPosts || !Session.startsPipelinedPost(entry) {
                break   // resumes when the posts before it are answered
            }
            if case .line = entry {
                guard takeToken() else { break }   // fake lag: wait for the bucket
                pendingCommands -= 1
            }
            waitingHead += 1
            switch entry {
            case .line(let line): handle(line)
            case .refused(let tag, let verb): refuseFlooded(tag: tag, verb: verb)
            }
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: waiting.count < 64)
            waitingHead = 0
        }
    }

    private func handle(_ line: FramedLine) {
        switch line {
        case .tooLong:
            send(ServerLine.err(tag: nil, code: .lineTooLong, verb: "*",
                                message: "lines are at most \(service.config.limits.maxLineLength) bytes; the line was discarded"))
        case .line(let bytes):
            switch service.parser.parse(bytes) {
            case .failure(let failure):
                send(ServerLine.err(tag: failure.tag, code: failure.code, verb: failure.verb, message: failure.message))
            case .success(let parsed):
                switch Command.typed(parsed) {
                case .success(let command):
                    execute(Request(tag: parsed.tag, command: command))
                case .failure(let refusal):
                    send(ServerLine.err(tag: parsed.tag, code: refusal.code, verb: parsed.verb, message: refusal.message))
                }
            }
        }
    }

    /// Marks the session busy until `finish` is called with the reply (on this connection's queue).
    func beginAsync() { busy = true }

    /// Sends a final reply (with any data lines before it, contiguous) and resumes the command loop.
    func finish(_ bytes: [UInt8]) {
        dispatchPrecondition(condition: .onQueue(connection.queue))
        busy = false
        send(bytes)
        runWaiting()
    }

    /// Runs `body` on this session's queue: the way async results come back from shards and pools.
    func onQueue(_ body: @escaping @Sendable () -> Void) {
        connection.queue.async(execute: body)
    }

    func send(_ bytes: [UInt8]) {
        guard !closing else { return }
        if replyQueue.isEmpty {
            sendBounded(bytes)
        } else {
            replyQueue.append(PendingReply(bytes))   // after the pipelined posts before it
        }
    }

    /// A pipelined post takes its place among the replies; the command loop goes on at once.
    func beginPipelinedPost() -> PendingReply {
        let slot = PendingReply(nil)
        replyQueue.append(slot)
        pipelinedPosts += 1
        return slot
    }

    /// The post's reply is ready: write every reply that is ready, in order, then go on.
    func finishPipelinedPost(_ slot: PendingReply, _ bytes: [UInt8]) {
        dispatchPrecondition(condition: .onQueue(connection.queue))
        slot.bytes = bytes
        pipelinedPosts -= 1
        var ready = 0
        while ready < replyQueue.count, let reply = replyQueue[ready].bytes {
            if !closing { sendBounded(reply) }
            ready += 1
        }
        replyQueue.removeFirst(ready)
        runWaiting()
    }

    func loggedIn(as account: Account, byCertificate: Bool = false) {
        self.account = account
        accountName = account.name
        clock.loggedIn(now: MonotonicClock.seconds())
        if account.role == .bot || byCertificate { useBotRate() }
    }

    func didJoin(_ room: RoomName) { joined.insert(room) }
    func didPart(_ room: RoomName) { joined.remove(room) }
    func markClosing() {
        closing = true
        stopTimer()
    }

    /// Stops taking new commands (shutdown); a command in progress still gets its reply.
    func stopTakingCommands() {
        connection.queue.async { [self] in draining = true }
    }
}
