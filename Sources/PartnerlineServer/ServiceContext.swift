import Dispatch
import Foundation
import Logging
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineTransport

/// What every session shares: the config, the parser, the accounts and the cluster shards.
/// Immutable once the service has started, except the shards: a config reload may add clusters.
final class ServiceContext: @unchecked Sendable {
    static let defaultHistoryLimit = 50
    static let maxHistoryLimit = 500

    let config: ServerConfig
    let parser: CommandParser
    let accounts: AccountDirectory
    private let shardsLock = NSLock()
    private var shardList: [ClusterShard]
    private var shardsByName: [String: ClusterShard]
    /// In configured order (clusters added by a reload follow).
    var shards: [ClusterShard] {
        shardsLock.lock()
        defer { shardsLock.unlock() }
        return shardList
    }
    let log: Logger
    private let registry: SessionRegistry
    let peerIsTrustedForPlaintext: @Sendable (PeerAddress) -> Bool
    let limiter: ConnectionLimiter
    let loginThrottle: SharedLoginThrottle
    let sessionTimeouts: SessionClock.Timeouts
    /// One timeout sweeper per I/O queue, instead of a timer per session.
    let sweepers: SessionSweepers
    /// Returns the memory freed after TLS handshakes, closed connections and password hashes to the system.
    let trimmer: MemoryTrimmer
    /// Client certificate SHA-256 (lower-case hex) -> the account it may LOGIN as.
    let certificateAccounts: [String: String]
    /// Server-wide item ids and the cluster of each item.
    let itemIndex: ItemIndex
    /// Logged-in sessions by account, with their watched tags.
    let online: OnlineDirectory
    /// The server's clock (dates of NEED/OFFER/... are checked against it); tests move it.
    let clock: @Sendable () -> Int64

    init(config: ServerConfig, accounts: AccountDirectory, shards: [ClusterShard], log: Logger, registry: SessionRegistry,
         peerIsTrustedForPlaintext: @escaping @Sendable (PeerAddress) -> Bool,
         itemIndex: ItemIndex = ItemIndex(), online: OnlineDirectory = OnlineDirectory(),
         clock: @escaping @Sendable () -> Int64 = { Timestamp.nowMillis() }, trimmer: MemoryTrimmer = MemoryTrimmer()) {
        self.trimmer = trimmer
        self.itemIndex = itemIndex
        self.online = online
        self.clock = clock
        self.peerIsTrustedForPlaintext = peerIsTrustedForPlaintext
        self.config = config
        parser = CommandParser(grammar: .v1)
        self.accounts = accounts
        shardList = shards
        shardsByName = Dictionary(uniqueKeysWithValues: shards.map { ($0.name, $0) })
        self.log = log
        self.registry = registry
        let protection = config.protection
        limiter = ConnectionLimiter(ConnectionLimits(
            maxPerAddress: protection.connections.maxPerAddress, maxNewPerAddress: protection.connections.maxNewPerAddress,
            windowSeconds: protection.connections.newWindowSeconds, maxTotal: protection.connections.maxTotal))
        loginThrottle = SharedLoginThrottle(LoginThrottle(
            maxFailuresPerAccount: protection.logins.maxFailuresPerAccount,
            maxFailuresPerAddress: protection.logins.maxFailuresPerAddress, windowSeconds: protection.logins.windowSeconds))
        sessionTimeouts = SessionClock.Timeouts(
            handshake: protection.timeouts.handshakeSeconds, registration: protection.timeouts.registrationSeconds,
            idle: protection.timeouts.idleSeconds, pingTimeout: protection.timeouts.pingTimeoutSeconds)
        sweepers = SessionSweepers(timeouts: sessionTimeouts)
        certificateAccounts = Dictionary(config.tls.clientCertificates.map { ($0.normalizedFingerprint, $0.account) },
                                         uniquingKeysWith: { first, _ in first })
    }

    func shard(_ cluster: String) -> ClusterShard? {
        shardsLock.lock()
        defer { shardsLock.unlock() }
        return shardsByName[cluster]
    }

    /// A cluster added by a config reload.
    func addShard(_ shard: ClusterShard) {
        shardsLock.lock()
        shardList.append(shard)
        shardsByName[shard.name] = shard
        shardsLock.unlock()
    }

    /// Asks each shard for its summary and answers with all of them, in the order given; with
    /// `account`, rooms it is a member of carry its read marker.
    func summaries(of shards: [ClusterShard], for account: String? = nil,
                   reply: @escaping @Sendable ([ClusterShard.Summary]) -> Void) {
        let collector = SummaryCollector(count: shards.count, reply: reply)
        for (index, shard) in shards.enumerated() {
            shard.summary(for: account) { collector.set(index, $0) }
        }
    }

    /// Open connections (tests wait for a close to have reached the server).
    var sessionCount: Int { registry.all.count }

    func sessionEnded(_ session: Session, reason: CloseReason) {
        online.remove(session)
        registry.remove(session)
        trimmer.requestTrim()   // what the connection held is free now: a storm's end must not keep it
    }

    /// Asks every shard the same question about its items and answers with the answers in shard order.
    func askEveryShard<T: Sendable>(_ question: @escaping @Sendable (ItemBook, ClusterState) -> T,
                                    reply: @escaping @Sendable ([T]) -> Void) {
        askShards(shards, question, reply: reply)   // one snapshot: a reload may add a cluster meanwhile
    }

    /// Tells the online sessions of `cluster`'s facilitators (and admins) something, as a NOTICE line.
    func noticeModerators(of cluster: String, _ text: String) {
        let line = ServerLine.notice(text)
        for session in online.sessions(of: accounts.moderators(of: cluster), excluding: []) {
            session.deliveryQueue.async { session.deliverOnQueue([line]) }
        }
    }

    /// Asks `shards` (e.g. those of the caller's clusters) the same question; `reply` gets the answers in order.
    func askShards<T: Sendable>(_ shards: [ClusterShard], _ question: @escaping @Sendable (ItemBook, ClusterState) -> T,
                                reply: @escaping @Sendable ([T]) -> Void) {
        let collector = Collector<T>(count: shards.count, reply: reply)
        for (index, shard) in shards.enumerated() {
            shard.readItems(question) { collector.set(index, $0) }
        }
    }
}

/// Gathers shard summaries that arrive on different queues.
private final class SummaryCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [ClusterShard.Summary?]
    private var remaining: Int
    private let reply: @Sendable ([ClusterShard.Summary]) -> Void

    init(count: Int, reply: @escaping @Sendable ([ClusterShard.Summary]) -> Void) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.reply = reply
        if count == 0 { reply([]) }
    }

    func set(_ index: Int, _ summary: ClusterShard.Summary) {
        lock.lock()
        results[index] = summary
        remaining -= 1
        let done = remaining == 0
        lock.unlock()
        if done { reply(results.compactMap { $0 }) }
    }
}

/// Gathers answers that arrive on different queues.
private final class Collector<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [T?]
    private var remaining: Int
    private let reply: @Sendable ([T]) -> Void

    init(count: Int, reply: @escaping @Sendable ([T]) -> Void) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.reply = reply
        if count == 0 { reply([]) }
    }

    func set(_ index: Int, _ value: T) {
        lock.lock()
        results[index] = value
        remaining -= 1
        let done = remaining == 0
        lock.unlock()
        if done { reply(results.compactMap { $0 }) }
    }
}

/// The live sessions, so shutdown can say goodbye to each.
final class SessionRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var sessions: [UInt64: Session] = [:]
    private var emptied: [@Sendable () -> Void] = []

    func add(_ session: Session) {
        lock.lock()
        sessions[session.connection.id] = session
        lock.unlock()
    }

    func remove(_ session: Session) {
        lock.lock()
        sessions[session.connection.id] = nil
        let waiters = sessions.isEmpty ? emptied : []
        if sessions.isEmpty { emptied.removeAll() }
        lock.unlock()
        waiters.forEach { $0() }
    }

    var all: [Session] {
        lock.lock()
        defer { lock.unlock() }
        return Array(sessions.values)
    }

    /// Calls `body` once no session is left (at once if none is).
    func whenEmpty(_ body: @escaping @Sendable () -> Void) {
        lock.lock()
        if sessions.isEmpty {
            lock.unlock()
            body()
        } else {
            emptied.append(body)
            lock.unlock()
        }
    }
}
