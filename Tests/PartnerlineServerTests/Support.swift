import Foundation
import Logging
@testable import PartnerlineServer
import PartnerlineStore
import PartnerlineTransport
import Testing

enum TestConfig {
    /// Flood control and connection limits raised far out of the way, so functional tests are
    /// never fake-lagged or refused; the protection tests pass their own section.
    static let relaxedProtection = """
        protection:
          flood: { burst: 100000, rate_per_second: 100000, bot_burst: 100000, bot_rate_per_second: 100000, max_delayed: 100000 }
          connections: { max_per_address: 10000, max_new_per_address: 100000 }
          logins: { max_failures_per_account: 100000, max_failures_per_address: 100000 }
          hashing: { max_queued: 100000 }
        """

    /// A small config: two clusters, cheap password hashing, any free ports.
    static func yaml(dataDir: String, plain: Bool = true, policy: String = "open", invites: [String] = [],
                     fsync: String = "batch", extraLimits: String = "", oneCluster: Bool = false,
                     protection: String = relaxedProtection, extra: String = "", journalExtra: String = "") -> String {
        let secondCluster = oneCluster ? "" : """
              - name: purchasing
                topic: Buy together
          - name: inner-city-north
            description: Inner-city cluster
            rooms:
              - name: general
                topic: City news
        """
        return """
        server_name: test
        data_dir: \(dataDir)
        listen:
          host: 127.0.0.1
          tls_port: 0
        \(plain ? "  plain_port: 0" : "")
        registration:
          policy: \(policy)
          invite_codes: [\(invites.joined(separator: ", "))]
        passwords:
          scrypt_log2_n: 4
        journal:
          fsync: \(fsync)
        \(journalExtra)
        limits:
          max_line_length: 4096
        \(extraLimits)
        \(protection)
        \(extra)
        clusters:
          - name: rural-east-midlands
            description: Rural cluster
            rooms:
              - name: general
                topic: Introductions
        \(secondCluster)
        """
    }

    static func make(dataDir: String, plain: Bool = true, policy: String = "open", invites: [String] = [],
                     fsync: String = "batch", extraLimits: String = "", protection: String = relaxedProtection,
                     extra: String = "") -> ServerConfig {
        try! ServerConfig.parse(yaml: yaml(dataDir: dataDir, plain: plain, policy: policy, invites: invites,
                                           fsync: fsync, extraLimits: extraLimits, protection: protection, extra: extra))
    }

    /// The config as a file, for the real binary (TLS only); one cluster with one room unless
    /// `oneCluster` is false. `journalExtra` holds more `journal:` keys, indented two spaces.
    static func yamlFile(in dir: String, dataDir: String, fsync: String = "batch", oneCluster: Bool = true,
                         journalExtra: String = "") -> String {
        let path = dir + "/test.yaml"
        try! yaml(dataDir: dataDir, plain: false, fsync: fsync, oneCluster: oneCluster, journalExtra: journalExtra)
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A real server in this process, on real sockets, with journals in a temp dir.
final class InProcessServer: @unchecked Sendable {
    let service: PartnerlineService
    let endpoints: PartnerlineService.Endpoints
    private var stopped = false

    init(_ config: ServerConfig, treatPeersAsRemote: Bool = false,
         adjustJournal: (@Sendable (inout JournalOptions) -> Void)? = nil, clock: (@Sendable () -> Int64)? = nil,
         logCapture: LogCapture? = nil) throws {
        var logger = logCapture.map { capture in Logger(label: "test-server") { _ in CapturingLogHandler(capture) } }
            ?? Logger(label: "test-server")
        logger.logLevel = .warning
        service = PartnerlineService(config: config, logger: logger)
        if treatPeersAsRemote { service.peerIsTrustedForPlaintext = { _ in false } }
        if let clock { service.clock = clock }
        if let adjustJournal { service.adjustJournalOptions = adjustJournal }
        endpoints = try service.start()
    }

    var tlsPort: Int { endpoints.tls.port }
    var plainPort: Int { endpoints.plain!.port }

    func client(tls: Bool = true) throws -> TestClient {
        try TestClient(port: tls ? tlsPort : plainPort, tls: tls)
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        service.shutdown()
    }

    deinit { stop() }
}

/// A line client that reads past the greeting and collects replies up to their final line.
final class TestClient {
    let connection: BlockingLineClient
    let greeting: String
    /// EV lines that arrived while waiting for another reply.
    private(set) var events: [String] = []

    init(host: String = "127.0.0.1", port: Int, tls: Bool, receiveBufferBytes: Int? = nil,
         certificatePath: String? = nil, privateKeyPath: String? = nil) throws {
        connection = try BlockingLineClient(host: host, port: port, tls: tls, timeoutSeconds: 20, receiveBufferBytes: receiveBufferBytes,
                                            certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        greeting = try connection.readLine()
    }

    /// Sends one line and returns every line up to and including its final OK/ERR
    /// (EV lines for other commands are kept in `events` as well as returned).
    @discardableResult
    func send(_ line: String) throws -> [String] {
        try connection.send(line: line)
        return try readReply()
    }

    func readReply() throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try connection.readLine()
            lines.append(line)
            let body = Self.untagged(line)
            if body.hasPrefix("EV ") { events.append(line) }
            if body.hasPrefix("OK ") || body.hasPrefix("ERR ") || body.hasPrefix("BYE ") { return lines }
        }
    }

    /// The final line of a command's reply.
    func final(_ line: String) throws -> String { try send(line).last! }

    func readLine() throws -> String { try connection.readLine() }

    func login(_ account: String, password: String = "correct-horse-battery", register: Bool = true,
               role: String = "member") throws {
        if register {
            let reply = try final("REGISTER \(account) \(password) org=\"Org \(account)\"")
            #expect(reply == "OK REGISTER account=\(account)")
        }
        let reply = try final("LOGIN \(account) \(password)")
        #expect(reply.hasPrefix("OK LOGIN account=\(account) role=\(role) rooms="), "\(reply)")
    }

    static func untagged(_ line: String) -> Substring {
        if line.hasPrefix("@"), let space = line.firstIndex(of: " ") {
            return line[line.index(after: space)...]
        }
        return line[...]
    }

    func close() { connection.close() }
}

/// The error code of an `ERR CODE VERB :message` line.
func errorCode(_ line: String) -> String? {
    let parts = TestClient.untagged(line).split(separator: " ")
    return parts.first == "ERR" && parts.count > 1 ? String(parts[1]) : nil
}

/// Log messages of an in-process server, for tests that check what the server says it did.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var messages: [String] { lock.withLock { lines } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    init(_ capture: LogCapture) { self.capture = capture }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.append("\(event.level) \(event.message)")
    }
}
