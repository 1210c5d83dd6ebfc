import Dispatch
import Foundation
import Logging
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore
import PartnerlineTransport

/// The running server: journals replayed into state, TLS (and optional plaintext) listeners,
/// sessions, and an orderly shutdown.
public final class PartnerlineService: @unchecked Sendable {
    public struct Endpoints: Sendable {
        public var tls: (host: String, port: Int)
        public var plain: (host: String, port: Int)?

        /// The line printed once the server accepts connections.
        public var listeningLine: String {
            var line = "listening tls=\(Self.format(tls))"
            if let plain { line += " plain=\(Self.format(plain))" }
            return line
        }

        private static func format(_ endpoint: (host: String, port: Int)) -> String {
            endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)"
        }
    }

    /// As started, then as reloaded (clusters and certificate paths; see reload).
    var config: ServerConfig
    let log: Logger
    private let registry = SessionRegistry()
    var context: ServiceContext?
    /// The TLS listener first.
    var listeners: [Listener] = []
    private var accountJournal: Journal?
    var clusterJournals: [Journal] = []
    /// Serialises reloads (SIGHUP) with each other and with shutdown.
    let reloadLock = NSLock()
    /// Whether a plaintext peer may send credentials. Loopback only; tests replace it to see the
    /// refusal without a second host.
    var peerIsTrustedForPlaintext: @Sendable (PeerAddress) -> Bool = { $0.isLoopback }
    /// The clock for event times, date checks, expiry and reminders. Tests set a clock they move.
    var clock: @Sendable () -> Int64 = { Timestamp.nowMillis() }
    private var sweepTimer: DispatchSourceTimer?
    /// Writes checkpoints off the shard queues (see Checkpointing.swift).
    private(set) lazy var checkpointWriter = CheckpointWriter(log: log)
    /// Tests replace the journals' file layer here to inject faults (EIO, EROFS, ENOSPC).
    var adjustJournalOptions: @Sendable (inout JournalOptions) -> Void = { _ in }

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        log = logger
    }

    /// Replays the journals, loads or makes the certificate and starts listening. On failure
    /// nothing stays open: journals opened so far are closed (releasing their locks).
    public func start() throws -> Endpoints {
        do {
            return try openAndListen()
        } catch {
            for listener in listeners { listener.stop() }
            listeners.removeAll()
            clusterJournals.forEach { $0.close() }
            clusterJournals.removeAll()
            accountJournal?.close()
            accountJournal = nil
            context = nil
            throw error
        }
    }

    private func openAndListen() throws -> Endpoints {
        TransportSetup.ignoreSIGPIPE()
        MemoryTrimmer.tuneHeap
        let fileLimit = TransportSetup.raiseOpenFileLimit()
        log.info("open file limit \(fileLimit): about \(max(0, fileLimit - 64)) connections")

        let dataDir = config.dataDir
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let options = journalOptions

        let (registry, accountJournal, accountReport) = try openAccounts(DataDirectory.accountsPath(dataDir), options)
        report(accountReport, journal: "accounts")
        self.accountJournal = accountJournal

        var shards: [ClusterShard] = []
        let itemIndex = ItemIndex()
        let online = OnlineDirectory()
        for definition in config.clusterDefinitions {
            shards.append(try openShard(definition, online: online, itemIndex: itemIndex))
        }

        let hasher = PasswordHasher(log2N: config.passwords.scryptLog2N, r: config.passwords.scryptR, p: config.passwords.scryptP)
        // Each scrypt takes its 128 MiB from the heap: give the pages back once no hash is left.
        let trimmer = MemoryTrimmer()
        let log = self.log
        let pool = HashingPool(threads: config.passwords.hashingThreads, maxQueued: config.protection.hashing.maxQueued,
                               onIdle: { done in
            trimmer.requestTrim()
            // After a login storm: what the limits did, once, rather than a line per refusal.
            if done.dropped + done.refused > 0 {
                log.notice("password hashing idle again: \(done.completed) checked, \(done.dropped) dropped (their connections had closed), \(done.refused) refused as busy (protection.hashing.max_queued)")
            }
        })
        let accounts = AccountDirectory(registry: registry, journal: accountJournal, hasher: hasher, pool: pool,
                                        policy: config.registration.policy, inviteCodes: config.registration.inviteCodes,
                                        appliedRecords: accountReport.records)
        let context = ServiceContext(config: config, accounts: accounts, shards: shards, log: log, registry: self.registry,
                                     peerIsTrustedForPlaintext: peerIsTrustedForPlaintext, itemIndex: itemIndex,
                                     online: online, clock: clock, trimmer: trimmer)
        self.context = context
        log.info("loaded \(registry.accounts.count) accounts and \(shards.count) clusters; registration is \(config.registration.policy.rawValue)")

        let tlsContext = try loadCertificate()
        let queues = IOQueuePool()
        let onConnection: @Sendable (Connection) -> Void = { [registry = self.registry] connection in
            let session = Session(connection: connection, service: context)
            context.trimmer.connectionOpened()
            if let refusal = context.limiter.admit(session.addressKey) {
                // Told why after the handshake (BYE TOO_MANY_CONNECTIONS), within the handshake timeout.
                session.refusal = refusal
                context.log.notice("connection refused: \(refusal.message)", metadata: ["peer": "\(connection.peer)"])
            } else {
                session.admitted = true
            }
            connection.handler = session
            registry.add(session)
            session.startTimer()
            connection.start()
        }
        let tlsListener = try Listener(host: config.listen.host, port: config.listen.tlsPort, tls: tlsContext, queues: queues,
                                       maxOutboundBytes: config.limits.maxOutboundBytes, onConnection: onConnection)
        listeners.append(tlsListener)
        var endpoints = Endpoints(tls: (tlsListener.localHost, tlsListener.localPort), plain: nil)
        if let plainPort = config.listen.plainPort {
            let plain = try Listener(host: config.listen.plainHost, port: plainPort, tls: nil, queues: queues,
                                     maxOutboundBytes: config.limits.maxOutboundBytes, onConnection: onConnection)
            listeners.append(plain)
            endpoints.plain = (plain.localHost, plain.localPort)
            log.notice("plaintext listener on \(plain.localHost):\(plain.localPort); LOGIN and REGISTER over it only from loopback")
        }
        for listener in listeners { listener.start() }
        startSweeping(context)
        return endpoints
    }

    /// Expiry and reminders: every `items.sweep_interval_seconds`, each shard posts what is due.
    private func startSweeping(_ context: ServiceContext) {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "partnerline.sweep"))
        let interval = config.items.sweepIntervalSeconds
        let days = config.items.reminderDays
        timer.schedule(deadline: .now() + .seconds(interval), repeating: .seconds(interval))
        timer.setEventHandler { @Sendable in
            // context.shards, not a copy: a cluster added by a reload is swept too.
            for shard in context.shards { shard.sweep(reminderDays: days) { _ in } }
        }
        timer.resume()
        sweepTimer = timer
    }

    /// Runs one expiry and reminder sweep on every cluster now and waits for it (tests; the timer does
    /// the same on its own). Returns how many events were stored.
    func sweepNow() -> Int {
        guard let context else { return 0 }
        let done = DispatchSemaphore(value: 0)
        let total = LockedCounter()
        for shard in context.shards {
            shard.sweep(reminderDays: config.items.reminderDays) { result in
                if case .success(let count) = result { total.add(count) }
                done.signal()
            }
        }
        for _ in context.shards { done.wait() }
        return total.value
    }

    /// Stops accepting, lets writes in progress finish and be answered, says `BYE SHUTDOWN`
    /// to every client, and closes the journals. Blocks until done (or a few seconds at most
    /// for clients that do not read their goodbye).
    public func shutdown() {
        reloadLock.lock()
        defer { reloadLock.unlock() }
        sweepTimer?.cancel()
        context?.trimmer.stop()
        for listener in listeners { listener.stop() }
        let sessions = registry.all
        for session in sessions { session.stopTakingCommands() }
        context?.shards.forEach { $0.drain() }
        accountJournal?.flush()
        for session in sessions {
            session.onQueue { session.disconnect(code: "SHUTDOWN", text: "the server is shutting down") }
        }
        let gone = DispatchSemaphore(value: 0)
        registry.whenEmpty { gone.signal() }
        if gone.wait(timeout: .now() + .seconds(3)) == .timedOut {
            log.warning("some clients did not take their BYE within 3 s; closing anyway")
        }
        // Every write is durable and applied now: the checkpoints the next start begins from.
        if config.journal.checkpointEveryRecords > 0 {
            context?.shards.forEach { $0.writeFinalCheckpoint() }
            if let accountJournal { context?.accounts.writeFinalCheckpoint(journal: accountJournal, writer: checkpointWriter) }
        }
        clusterJournals.forEach { $0.close() }
        accountJournal?.close()
        log.info("journals flushed; stopped")
    }

    var journalOptions: JournalOptions {
        var options = JournalOptions(policy: config.journal.fsync, batchWindowMicros: config.journal.batchWindowMicros,
                                     maxBatchRecords: config.journal.maxBatchRecords,
                                     segmentMaxBytes: config.journal.segmentMaxBytes)
        adjustJournalOptions(&options)
        return options
    }

    /// Opens a cluster's journal into a new shard (at start, and for a cluster added by a reload):
    /// from its newest valid checkpoint and the records after it, else by replaying it whole.
    func openShard(_ definition: ClusterDefinition, online: OnlineDirectory, itemIndex: ItemIndex) throws -> ClusterShard {
        let directory = DataDirectory.clusterPath(config.dataDir, cluster: definition.name)
        let opened = try openCluster(definition, directory: directory)
        report(opened.recovery, journal: definition.name)
        clusterJournals.append(opened.journal)
        let shard = ClusterShard(state: opened.state, journal: opened.journal, index: opened.index, online: online, clock: clock)
        if config.journal.checkpointEveryRecords > 0 {
            shard.checkpoints = ShardCheckpoints(writer: checkpointWriter, directory: directory, definition: definition,
                                                 everyRecords: config.journal.checkpointEveryRecords,
                                                 appliedRecords: opened.recovery.records,
                                                 checkpointedRecords: opened.checkpointRecords)
        }
        itemIndex.seed(cluster: definition.name, book: shard.replayedItems)
        return shard
    }

    /// Replays a cluster's journal, all of it (`start` nil) or the tail after a checkpoint.
    func replayCluster(_ definition: ClusterDefinition, directory: String,
                       from start: (state: ClusterState, index: HistoryIndex, position: JournalPosition)?) throws
        -> (journal: Journal, recovery: RecoveryReport, state: ClusterState, index: HistoryIndex) {
        // Decoding here, folding into the state on a second thread (ReplayPipeline).
        let initial = start?.state ?? ClusterState(definition: definition, historyWindow: config.journal.historyWindow)
        let pipeline = ReplayPipeline(state: initial) { state, entry in try state.apply(entry) }
        var index = start?.index ?? HistoryIndex()
        let journal: Journal
        let recovery: RecoveryReport
        let state: ClusterState
        do {
            (journal, recovery) = try openJournal(directory, journalOptions, from: start?.position) { payload, location in
                let entry = try JournalEntryCodec.decode(payload)
                try pipeline.add(entry)
                if case .event(let event) = entry { index.note(room: event.room.room, seq: event.seq, at: location) }
            }
        } catch {
            pipeline.cancel()
            throw error
        }
        do {
            var replayed = try pipeline.finish()
            replayed.encodeDeferredLines()   // only the windows' lines, not every replayed event's
            state = replayed
        } catch {
            journal.close()
            throw error
        }
        return (journal, recovery, state, index)
    }

    /// Opens one journal; a journal locked by another process means another server owns this data
    /// directory, and two writers would corrupt it, so the start is refused in plain words.
    func openJournal(_ path: String, _ options: JournalOptions, from position: JournalPosition? = nil,
                     replay: ([UInt8], RecordLocation) throws -> Void) throws -> (Journal, RecoveryReport) {
        do {
            return try Journal.open(directory: path, options: options, from: position, replayLocated: replay)
        } catch let error as StorageError where error.kind == .locked {
            throw DataDirectoryInUse(dataDir: config.dataDir, journal: path)
        }
    }

    func report(_ recovery: RecoveryReport, journal: String) {
        if let file = recovery.truncatedFile {
            log.warning("journal \(journal): cut a torn tail of \(recovery.truncatedBytes) bytes at offset \(recovery.truncatedAtOffset ?? 0) of \(file): \(recovery.reason ?? "incomplete record"); every record before it is kept")
        }
        log.info("journal \(journal): \(recovery.records) records, head \(recovery.headHashHex.prefix(16))")
    }

    func loadCertificate() throws -> TLSServerContext {
        let requestClientCertificates = !config.tls.clientCertificates.isEmpty
        if let certificate = config.tls.certificate, let key = config.tls.privateKey {
            return try TLSServerContext(certificateChainPath: certificate, privateKeyPath: key,
                                        requestClientCertificates: requestClientCertificates)
        }
        let certificate = "\(config.dataDir)/tls/self-signed.crt"
        let key = "\(config.dataDir)/tls/self-signed.key"
        if !FileManager.default.fileExists(atPath: certificate) || !FileManager.default.fileExists(atPath: key) {
            try CertificateFactory.makeSelfSigned(commonName: config.serverName,
                                                  subjectAltNames: ["localhost", "127.0.0.1", "::1"], days: 825,
                                                  certificatePath: certificate, privateKeyPath: key)
            log.notice("no certificate configured: made a self-signed one at \(certificate) (key \(key)); set tls.certificate and tls.private_key for a real deployment")
        } else {
            log.notice("no certificate configured: using the self-signed one at \(certificate)")
        }
        return try TLSServerContext(certificateChainPath: certificate, privateKeyPath: key,
                                    requestClientCertificates: requestClientCertificates)
    }
}

private final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.lock(); count += n; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
