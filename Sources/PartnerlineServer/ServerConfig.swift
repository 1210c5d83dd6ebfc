import PartnerlineConfig
import Foundation
import PartnerlineCore
import PartnerlineProtocol
import PartnerlineStore
import Yams

/// The server's settings, read from a YAML file (Config/partnerline.yaml documents every key).
/// Missing keys take the defaults below; command-line flags override the file.
public struct ServerConfig: Sendable, Codable, Equatable {
    public struct Listen: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(type(of: host).self, forKey: .host) ?? host
            tlsPort = try c.decodeIfPresent(type(of: tlsPort).self, forKey: .tlsPort) ?? tlsPort
            plainPort = try c.decodeIfPresent(Int.self, forKey: .plainPort) ?? nil
            plainHost = try c.decodeIfPresent(type(of: plainHost).self, forKey: .plainHost) ?? plainHost
        }

        /// TLS listener address: numeric IPv4/IPv6 or a name; "::" is dual-stack.
        public var host: String = "127.0.0.1"
        public var tlsPort: Int = 7443
        /// Plaintext listener for netcat: off when nil. Loopback unless plainHost is set explicitly.
        public var plainPort: Int?
        public var plainHost: String = "127.0.0.1"

        enum CodingKeys: String, CodingKey, CaseIterable {
            case host, tlsPort = "tls_port", plainPort = "plain_port", plainHost = "plain_host"
        }
    }

    public struct TLS: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            certificate = try c.decodeIfPresent(String.self, forKey: .certificate) ?? nil
            privateKey = try c.decodeIfPresent(String.self, forKey: .privateKey) ?? nil
            clientCertificates = try c.decodeIfPresent([ClientCertificate].self, forKey: .clientCertificates) ?? []
        }

        /// PEM certificate chain and key. When both are nil the server makes a self-signed pair under
        /// `<data_dir>/tls/` on first start and reuses it afterwards.
        public var certificate: String?
        public var privateKey: String?
        /// Client certificates mapped to accounts; when empty the server asks for none.
        public var clientCertificates: [ClientCertificate] = []

        enum CodingKeys: String, CodingKey, CaseIterable {
            case certificate, privateKey = "private_key", clientCertificates = "client_certificates"
        }
    }

    public struct Registration: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            policy = try c.decodeIfPresent(type(of: policy).self, forKey: .policy) ?? policy
            inviteCodes = try c.decodeIfPresent(type(of: inviteCodes).self, forKey: .inviteCodes) ?? inviteCodes
        }

        public var policy: RegistrationPolicy = .invite
        /// Single-use codes accepted under the invite policy.
        public var inviteCodes: [String] = []

        enum CodingKeys: String, CodingKey, CaseIterable { case policy, inviteCodes = "invite_codes" }
    }

    public struct Passwords: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            scryptLog2N = try c.decodeIfPresent(type(of: scryptLog2N).self, forKey: .scryptLog2N) ?? scryptLog2N
            scryptR = try c.decodeIfPresent(type(of: scryptR).self, forKey: .scryptR) ?? scryptR
            scryptP = try c.decodeIfPresent(type(of: scryptP).self, forKey: .scryptP) ?? scryptP
            hashingThreads = try c.decodeIfPresent(type(of: hashingThreads).self, forKey: .hashingThreads) ?? hashingThreads
        }

        /// scrypt cost: N = 2^log2N. OWASP's minimum is N=2^17, r=8, p=1.
        public var scryptLog2N: Int = 17
        public var scryptR: Int = 8
        public var scryptP: Int = 1
        /// Hashes computed at once (each scrypt at N=2^17 uses 128 MiB); hashing runs off the I/O queues.
        public var hashingThreads: Int = 2

        enum CodingKeys: String, CodingKey, CaseIterable {
            case scryptLog2N = "scrypt_log2_n", scryptR = "scrypt_r", scryptP = "scrypt_p"
            case hashingThreads = "hashing_threads"
        }
    }

    public struct Journal: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            fsync = try c.decodeIfPresent(type(of: fsync).self, forKey: .fsync) ?? fsync
            batchWindowMicros = try c.decodeIfPresent(type(of: batchWindowMicros).self, forKey: .batchWindowMicros) ?? batchWindowMicros
            maxBatchRecords = try c.decodeIfPresent(type(of: maxBatchRecords).self, forKey: .maxBatchRecords) ?? maxBatchRecords
            segmentMaxBytes = try c.decodeIfPresent(type(of: segmentMaxBytes).self, forKey: .segmentMaxBytes) ?? segmentMaxBytes
            historyWindow = try c.decodeIfPresent(type(of: historyWindow).self, forKey: .historyWindow) ?? historyWindow
            checkpointEveryRecords = try c.decodeIfPresent(type(of: checkpointEveryRecords).self, forKey: .checkpointEveryRecords) ?? checkpointEveryRecords
        }

        /// When a stored record is answered: see `FsyncPolicy` and `GroupCommit` (one branch each).
        public var fsync: FsyncPolicy = .batch
        /// `batch` only: how long a batch waits after its first record for more, unless it fills up
        /// first. Applied by each journal's one batcher (a cluster's shard, the accounts journal's writer).
        public var batchWindowMicros: Int = 0
        /// Most records in one write + fsync; a command's own records are never split.
        public var maxBatchRecords: Int = 4096
        /// A journal starts a new segment file before one would grow past this.
        public var segmentMaxBytes: Int = 64 << 20
        /// Newest events per room kept in memory; HISTORY reaching further back reads the journal.
        public var historyWindow: Int = RoomState.defaultHistoryWindow
        /// A checkpoint of each cluster's folded state is written in the background after this many
        /// new records, and of every journal at a clean shutdown; start loads the newest valid one and
        /// replays only the records after it. 0: no checkpoints (every start replays whole journals).
        public var checkpointEveryRecords: Int = 100_000

        enum CodingKeys: String, CodingKey, CaseIterable {
            case fsync, batchWindowMicros = "batch_window_micros", maxBatchRecords = "max_batch_records"
            case segmentMaxBytes = "segment_max_bytes", historyWindow = "history_window"
            case checkpointEveryRecords = "checkpoint_every_records"
        }
    }

    public struct Limits: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxLineLength = try c.decodeIfPresent(type(of: maxLineLength).self, forKey: .maxLineLength) ?? maxLineLength
            maxOutboundBytes = try c.decodeIfPresent(type(of: maxOutboundBytes).self, forKey: .maxOutboundBytes) ?? maxOutboundBytes
            maxQueuedCommands = try c.decodeIfPresent(type(of: maxQueuedCommands).self, forKey: .maxQueuedCommands) ?? maxQueuedCommands
        }

        public var maxLineLength: Int = 4096
        /// Output a reader may leave unread before the server drops it.
        public var maxOutboundBytes: Int = 1 << 20
        /// Commands a client may send ahead of their replies before the server drops it.
        public var maxQueuedCommands: Int = 256

        enum CodingKeys: String, CodingKey, CaseIterable {
            case maxLineLength = "max_line_length", maxOutboundBytes = "max_outbound_bytes"
            case maxQueuedCommands = "max_queued_commands"
        }
    }

    /// Needs, offers, proposals and funding alerts.
    public struct Items: Sendable, Codable, Equatable {

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            reminderDays = try c.decodeIfPresent(type(of: reminderDays).self, forKey: .reminderDays) ?? reminderDays
            sweepIntervalSeconds = try c.decodeIfPresent(type(of: sweepIntervalSeconds).self, forKey: .sweepIntervalSeconds)
                ?? sweepIntervalSeconds
        }

        /// Days before a proposal's or funding alert's deadline when the server posts a REMINDER.
        public var reminderDays: [Int] = [7, 1]
        /// How often the server looks for items to expire and reminders to post.
        public var sweepIntervalSeconds: Int = 60

        enum CodingKeys: String, CodingKey, CaseIterable {
            case reminderDays = "reminder_days", sweepIntervalSeconds = "sweep_interval_seconds"
        }
    }

    public struct Room: Sendable, Codable, Equatable {
        public init(name: String, topic: String = "") {
            self.name = name
            self.topic = topic
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            topic = try c.decodeIfPresent(type(of: topic).self, forKey: .topic) ?? topic
        }

        public var name: String
        public var topic: String = ""

        enum CodingKeys: String, CodingKey, CaseIterable { case name, topic }
    }

    public struct Cluster: Sendable, Codable, Equatable {
        public init(name: String, description: String = "", rooms: [Room] = []) {
            self.name = name
            self.description = description
            self.rooms = rooms
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            description = try c.decodeIfPresent(type(of: description).self, forKey: .description) ?? description
            rooms = try c.decodeIfPresent(type(of: rooms).self, forKey: .rooms) ?? rooms
        }

        public var name: String
        public var description: String = ""
        public var rooms: [Room] = []

        enum CodingKeys: String, CodingKey, CaseIterable { case name, description, rooms }
    }

    public var serverName: String = "partnerline"
    public var dataDir: String = "data"
    public var listen = Listen()
    public var tls = TLS()
    public var registration = Registration()
    public var passwords = Passwords()
    public var journal = Journal()
    public var limits = Limits()
    public var items = Items()
    public var clusters: [Cluster] = []
    public var protection = Protection()

    enum CodingKeys: String, CodingKey, CaseIterable {
        case serverName = "server_name", dataDir = "data_dir", listen, tls, registration, passwords, journal
        case limits, clusters, items, protection
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        serverName = try c.decodeIfPresent(String.self, forKey: .serverName) ?? serverName
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? dataDir
        listen = try c.decodeIfPresent(Listen.self, forKey: .listen) ?? listen
        tls = try c.decodeIfPresent(TLS.self, forKey: .tls) ?? tls
        registration = try c.decodeIfPresent(Registration.self, forKey: .registration) ?? registration
        passwords = try c.decodeIfPresent(Passwords.self, forKey: .passwords) ?? passwords
        journal = try c.decodeIfPresent(Journal.self, forKey: .journal) ?? journal
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? limits
        clusters = try c.decodeIfPresent([Cluster].self, forKey: .clusters) ?? clusters
        protection = try c.decodeIfPresent(Protection.self, forKey: .protection) ?? protection
        items = try c.decodeIfPresent(Items.self, forKey: .items) ?? items
    }

    /// Reads and validates a YAML config. Relative paths in it are taken relative to the current directory.
    public static func load(path: String) throws -> ServerConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read config \(path): \(error.localizedDescription)")
        }
        return try parse(yaml: text, source: path)
    }

    /// Parses and validates a config. A key the config does not know (a typo such as `fsnyc:`) is
    /// an error naming it, its section and the nearest known key, never a silent default.
    public static func parse(yaml: String, source: String = "config") throws -> ServerConfig {
        let tree: Node?
        do {
            tree = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("\(source): not valid YAML: \(error)")
        }
        if let tree {
            let unknown = ConfigKeyCheck.unknownKeys(in: tree, shape: shape)
            if !unknown.isEmpty {
                throw ConfigError(unknown.map { "\(source): \($0)" }.joined(separator: "\n"))
            }
        }
        let config: ServerConfig
        do {
            config = try YAMLDecoder().decode(ServerConfig.self, from: yaml)
        } catch let error as DecodingError {
            throw ConfigError("\(source): \(Self.describe(error))")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
        try config.validate()
        return config
    }

    /// Every key a config file may have, section by section (what `parse` checks against).
    static let shape: ConfigShape = .section(CodingKeys.self, [
        .listen: .section(Listen.CodingKeys.self),
        .tls: .section(TLS.CodingKeys.self, [.clientCertificates: .list(.section(ClientCertificate.CodingKeys.self))]),
        .registration: .section(Registration.CodingKeys.self),
        .passwords: .section(Passwords.CodingKeys.self),
        .journal: .section(Journal.CodingKeys.self),
        .limits: .section(Limits.CodingKeys.self),
        .items: .section(Items.CodingKeys.self),
        .clusters: .list(.section(Cluster.CodingKeys.self, [.rooms: .list(.section(Room.CodingKeys.self))])),
        .protection: Protection.shape,
    ])

    /// A decoding error as `section.key: what is wrong`, instead of the decoder's debug dump.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the config" : text
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type)) (\(context.debugDescription))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(Self.typeName(type)), found nothing"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }

    public func validate() throws {
        guard !clusters.isEmpty else { throw ConfigError("the config defines no clusters") }
        var seen = Set<String>()
        for cluster in clusters {
            guard Names.isValidCluster(cluster.name) else {
                throw ConfigError("cluster name '\(cluster.name)' is not 2-32 characters of a-z, 0-9 and '-'")
            }
            guard seen.insert(cluster.name).inserted else { throw ConfigError("cluster \(cluster.name) is defined twice") }
            guard !cluster.rooms.isEmpty else { throw ConfigError("cluster \(cluster.name) has no rooms") }
            var rooms = Set<String>()
            for room in cluster.rooms {
                guard Names.isValidRoomPart(room.name) else {
                    throw ConfigError("room name '\(room.name)' in \(cluster.name) is not 2-32 characters of a-z, 0-9 and '-'")
                }
                guard rooms.insert(room.name).inserted else {
                    throw ConfigError("room \(cluster.name)/\(room.name) is defined twice")
                }
            }
        }
        for port in [listen.tlsPort] + (listen.plainPort.map { [$0] } ?? []) where !(0...65535).contains(port) {
            throw ConfigError("port \(port) is out of range")
        }
        guard (tls.certificate == nil) == (tls.privateKey == nil) else {
            throw ConfigError("tls.certificate and tls.private_key go together")
        }
        guard (1...22).contains(passwords.scryptLog2N), (1...64).contains(passwords.scryptR),
              (1...16).contains(passwords.scryptP), passwords.hashingThreads >= 1 else {
            throw ConfigError("passwords: scrypt_log2_n 1-22, scrypt_r 1-64, scrypt_p 1-16, hashing_threads >= 1")
        }
        guard items.reminderDays.allSatisfy({ (1...365).contains($0) }), items.sweepIntervalSeconds >= 1 else {
            throw ConfigError("items: reminder_days are 1-365, sweep_interval_seconds >= 1")
        }
        guard limits.maxLineLength >= 64, limits.maxOutboundBytes >= 16384, limits.maxQueuedCommands >= 1 else {
            throw ConfigError("limits are too small (max_line_length >= 64, max_outbound_bytes >= 16384)")
        }
        guard journal.segmentMaxBytes >= 4096, journal.maxBatchRecords >= 1,
              (0...1_000_000).contains(journal.batchWindowMicros), journal.historyWindow >= 1,
              journal.checkpointEveryRecords >= 0 else {
            throw ConfigError("journal: segment_max_bytes >= 4096, max_batch_records >= 1, batch_window_micros 0-1000000, history_window >= 1, checkpoint_every_records >= 0 (0: off)")
        }
        try protection.validate(maxQueuedCommands: limits.maxQueuedCommands)
        for mapping in tls.clientCertificates {
            guard mapping.normalizedFingerprint.count == 64 else {
                throw ConfigError("tls.client_certificates: '\(mapping.sha256)' is not a SHA-256 fingerprint (64 hex digits)")
            }
            guard Names.isValidAccount(mapping.account) else {
                throw ConfigError("tls.client_certificates: '\(mapping.account)' is not an account name")
            }
        }
    }

    public var clusterDefinitions: [ClusterDefinition] {
        clusters.map { cluster in
            ClusterDefinition(name: cluster.name, description: cluster.description,
                              rooms: cluster.rooms.map { .init(name: $0.name, topic: $0.topic) })
        }
    }
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
