import Foundation
import PartnerlineConfig
import Yams

/// `fundingbot.yaml`, read and checked. Every problem is a `ConfigError` naming the key, so the
/// operator sees what to fix before the bot connects anywhere.
public struct BotConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var account: String
    public var auth: Auth
    public var serverCheck: ServerCheck
    public var stateDir: String
    public var fetch: FetchLimits
    public var posting: Posting
    public var feeds: [Feed]
    public var routes: [Route]

    public struct Auth: Sendable, Equatable {
        /// A client certificate and its key (PEM): `LOGIN <account> *`.
        public var certificateFile: String?
        public var keyFile: String?
        /// A file holding the password (first line); must not be readable by group or others.
        public var passwordFile: String?

        public init(certificateFile: String? = nil, keyFile: String? = nil, passwordFile: String? = nil) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.passwordFile = passwordFile
        }
    }

    /// How the bot knows it reached the right server.
    public enum ServerCheck: Sendable, Equatable {
        /// Verify the chain against this CA file (a self-signed server certificate is its own CA)
        /// and the name or address against `server`.
        case caFile(String)
        /// Trust on first use: remember the server's certificate fingerprint in this file and
        /// refuse a different one later.
        case knownHosts(String)
        /// The server's certificate must have this SHA-256 (hex, colons allowed); the name is not checked.
        case pinned(String)
        /// No check at all (a test server on loopback).
        case insecure
    }

    public struct FetchLimits: Sendable, Equatable {
        public var timeoutSeconds: Double = 20
        public var maxBytes: Int = 5 * 1024 * 1024
        /// Extra wait before a feed is polled again, up to this share of its interval.
        public var jitter: Double = 0.1
        /// The longest wait between retries of a failing feed.
        public var maxBackoffMinutes: Double = 6 * 60
        public var userAgent = "partnerline-fundingbot/1"

        public init() {}
    }

    public struct Posting: Sendable, Equatable {
        /// The longest alert text (title and summary), in bytes; the line as a whole always fits
        /// the server's `max_line_length`.
        public var maxTextBytes: Int = 600
        /// The server's `limits.max_line_length`.
        public var maxLineBytes: Int = 4096
        /// Alerts per second at most; keep at or under the server's `protection.flood.bot_rate_per_second`.
        public var ratePerSecond: Double = 5
        /// Add the start of the description after the title.
        public var includeSummary: Bool = true

        public init() {}
    }

    public struct Feed: Sendable, Equatable {
        public var name: String
        public var url: String
        public var format: FeedFormat
        public var intervalMinutes: Double
        /// Opportunity field -> the source's field or column (json, csv).
        public var fields: [String: String]
        /// For json: the key holding the array of records when the document is an object.
        public var itemsKey: String?
        /// The funder when the source names none (CommonGrants has no funder field).
        public var funder: String?

        public init(name: String, url: String, format: FeedFormat, intervalMinutes: Double = 60, fields: [String: String] = [:],
                    itemsKey: String? = nil, funder: String? = nil) {
            self.name = name
            self.url = url
            self.format = format
            self.intervalMinutes = intervalMinutes
            self.fields = fields
            self.itemsKey = itemsKey
            self.funder = funder
        }
    }

    public init(host: String, port: Int, account: String, auth: Auth = Auth(), serverCheck: ServerCheck,
                stateDir: String, fetch: FetchLimits = FetchLimits(), posting: Posting = Posting(),
                feeds: [Feed], routes: [Route]) {
        self.host = host
        self.port = port
        self.account = account
        self.auth = auth
        self.serverCheck = serverCheck
        self.stateDir = stateDir
        self.fetch = fetch
        self.posting = posting
        self.feeds = feeds
        self.routes = routes
    }
}


public enum FeedFormat: String, Sendable, Equatable, CaseIterable {
    case rss, atom, commongrants, json, csv
}

public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Reading

extension BotConfig {
    /// The keys a json/csv `fields` map may name.
    public static let fieldKeys: Set<String> = ["id", "funder", "title", "description", "amount", "amount_min",
                                                "amount_max", "currency", "closes", "url", "area", "eligibility", "tags", "status"]

    public static func load(path: String) throws -> BotConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read config \(path): \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try parse(yaml: text, relativeTo: base)
    }

    /// Relative file paths in the config (state_dir, certificates, local feeds) are taken from the
    /// current directory, like the server's; `relativeTo` is only used in messages.
    public static func parse(yaml: String, relativeTo base: String = ".") throws -> BotConfig {
        // A key the bot does not know (a typo such as `stat_dir:`) is an error naming it and the
        // nearest known key, never a silent default: the server's config check, on the bot's shape.
        let tree: Node?
        do {
            tree = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("config: not valid YAML: \(error)")
        }
        if let tree {
            let unknown = ConfigKeyCheck.unknownKeys(in: tree, shape: RawConfig.shape)
            if !unknown.isEmpty { throw ConfigError(unknown.map { "config: \($0)" }.joined(separator: "\n")) }
        }
        let raw: RawConfig
        do {
            raw = try YAMLDecoder().decode(RawConfig.self, from: yaml)
        } catch let error as DecodingError {
            throw ConfigError("config: \(describe(error))")
        } catch {
            throw ConfigError("config: \(error)")
        }
        return try raw.checked()
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// The file as written; `checked()` turns it into a `BotConfig` or says what is wrong.
private struct RawConfig: Decodable {
    enum CodingKeys: String, CodingKey, CaseIterable { case server, account, auth, server_check, state_dir, fetch, posting, feeds, routes }
    var server: String
    var account: String
    var auth: RawAuth?
    var server_check: RawCheck?
    var state_dir: String?
    var fetch: RawFetch?
    var posting: RawPosting?
    var feeds: [RawFeed]?
    var routes: [RawRoute]?

    struct RawAuth: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case certificate_file, key_file, password_file }
        var certificate_file: String?
        var key_file: String?
        var password_file: String?
    }

    struct RawCheck: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case ca_file, known_hosts, sha256, insecure }
        var ca_file: String?
        var known_hosts: String?
        var sha256: String?
        var insecure: Bool?
    }

    struct RawFetch: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case timeout_seconds, max_bytes, jitter, max_backoff_minutes, user_agent }
        var timeout_seconds: Double?
        var max_bytes: Int?
        var jitter: Double?
        var max_backoff_minutes: Double?
        var user_agent: String?
    }

    struct RawPosting: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case max_text_bytes, max_line_bytes, rate_per_second, include_summary }
        var max_text_bytes: Int?
        var max_line_bytes: Int?
        var rate_per_second: Double?
        var include_summary: Bool?
    }

    struct RawFeed: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case name, url, format, interval_minutes, fields, items_key, funder }
        var name: String
        var url: String
        var format: String
        var interval_minutes: Double?
        var fields: [String: String]?
        var items_key: String?
        var funder: String?
    }

    struct RawRoute: Decodable {
        enum CodingKeys: String, CodingKey, CaseIterable { case cluster, room, keywords, areas, tags }
        var cluster: String
        var room: String?
        var keywords: [String]?
        var areas: [String]?
        var tags: [String]?
    }

    /// The keys the bot's config may hold, from the CodingKeys its decoder reads (so they cannot drift).
    static let shape: ConfigShape = .section(CodingKeys.self, [
        .auth: .section(RawAuth.CodingKeys.self), .server_check: .section(RawCheck.CodingKeys.self),
        .fetch: .section(RawFetch.CodingKeys.self), .posting: .section(RawPosting.CodingKeys.self),
        .feeds: .list(.section(RawFeed.CodingKeys.self)), .routes: .list(.section(RawRoute.CodingKeys.self)),
    ])

    func checked() throws -> BotConfig {
        let (host, port) = try Self.hostPort(server)
        guard Self.isName(account) else {
            throw ConfigError("account '\(account)' is not an account name (2-32 of a-z, 0-9 and '-')")
        }
        var auth = BotConfig.Auth()
        auth.certificateFile = self.auth?.certificate_file
        auth.keyFile = self.auth?.key_file
        auth.passwordFile = self.auth?.password_file
        if (auth.certificateFile == nil) != (auth.keyFile == nil) {
            throw ConfigError("auth: certificate_file and key_file go together")
        }
        if auth.certificateFile != nil && auth.passwordFile != nil {
            throw ConfigError("auth: use a client certificate or a password_file, not both")
        }

        let check: BotConfig.ServerCheck
        let ways = [server_check?.ca_file != nil, server_check?.known_hosts != nil, server_check?.sha256 != nil,
                    server_check?.insecure == true]
        switch (ways.filter { $0 }.count, server_check) {
        case (0, _): throw ConfigError("server_check: give ca_file, known_hosts, sha256, or insecure: true")
        case (1, let c?) where c.ca_file != nil: check = .caFile(c.ca_file!)
        case (1, let c?) where c.known_hosts != nil: check = .knownHosts(c.known_hosts!)
        case (1, let c?) where c.sha256 != nil:
            let hex = c.sha256!.replacingOccurrences(of: ":", with: "").lowercased()
            guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
                throw ConfigError("server_check.sha256: 64 hex digits (colons allowed), as openssl x509 -fingerprint -sha256 prints")
            }
            check = .pinned(hex)
        case (1, _): check = .insecure
        default: throw ConfigError("server_check: give only one of ca_file, known_hosts, sha256, insecure")
        }

        var limits = BotConfig.FetchLimits()
        if let f = fetch {
            if let v = f.timeout_seconds { guard v > 0 else { throw ConfigError("fetch.timeout_seconds must be above 0") }; limits.timeoutSeconds = v }
            if let v = f.max_bytes { guard v > 0 else { throw ConfigError("fetch.max_bytes must be above 0") }; limits.maxBytes = v }
            if let v = f.jitter { guard (0...1).contains(v) else { throw ConfigError("fetch.jitter is a share, 0 to 1") }; limits.jitter = v }
            if let v = f.max_backoff_minutes { guard v > 0 else { throw ConfigError("fetch.max_backoff_minutes must be above 0") }; limits.maxBackoffMinutes = v }
            if let v = f.user_agent { limits.userAgent = v }
        }
        var posting = BotConfig.Posting()
        if let p = self.posting {
            if let v = p.max_line_bytes { guard v >= 512 else { throw ConfigError("posting.max_line_bytes must be at least 512") }; posting.maxLineBytes = v }
            if let v = p.max_text_bytes { guard v >= 40 else { throw ConfigError("posting.max_text_bytes must be at least 40") }; posting.maxTextBytes = v }
            if let v = p.rate_per_second { guard v > 0 else { throw ConfigError("posting.rate_per_second must be above 0") }; posting.ratePerSecond = v }
            if let v = p.include_summary { posting.includeSummary = v }
        }

        var feeds: [BotConfig.Feed] = []
        for (index, raw) in (self.feeds ?? []).enumerated() {
            let at = "feeds[\(index)]"
            guard raw.name.utf8.count <= 60, !raw.name.isEmpty,
                  raw.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw ConfigError("\(at).name '\(raw.name)': 1-60 of A-Z, a-z, 0-9, '-', '_' and '.' (it starts every ref=)")
            }
            guard !feeds.contains(where: { $0.name == raw.name }) else { throw ConfigError("\(at).name '\(raw.name)' is used twice") }
            guard let format = FeedFormat(rawValue: raw.format.lowercased()) else {
                throw ConfigError("\(at).format '\(raw.format)': one of \(FeedFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let lower = raw.url.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("file://") || !raw.url.contains("://") else {
                throw ConfigError("\(at).url '\(raw.url)': http(s)://, file:// or a local path")
            }
            let interval = raw.interval_minutes ?? 60
            guard interval > 0 else { throw ConfigError("\(at).interval_minutes must be above 0") }
            let fields = raw.fields ?? [:]
            for key in fields.keys where !BotConfig.fieldKeys.contains(key) {
                throw ConfigError("\(at).fields: unknown field '\(key)'; known: \(BotConfig.fieldKeys.sorted().joined(separator: ", "))")
            }
            if format == .json || format == .csv {
                guard fields["title"] != nil else { throw ConfigError("\(at).fields: a \(format.rawValue) feed needs at least 'title'") }
            }
            feeds.append(BotConfig.Feed(name: raw.name, url: raw.url, format: format, intervalMinutes: interval,
                                        fields: fields, itemsKey: raw.items_key, funder: raw.funder))
        }
        guard !feeds.isEmpty else { throw ConfigError("feeds: at least one feed") }

        var routes: [Route] = []
        for (index, raw) in (self.routes ?? []).enumerated() {
            let at = "routes[\(index)]"
            guard Self.isName(raw.cluster) else { throw ConfigError("\(at).cluster '\(raw.cluster)' is not a cluster name") }
            let room = raw.room ?? "\(raw.cluster)/funding"
            let parts = room.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == raw.cluster, Self.isName(String(parts[1])) else {
                throw ConfigError("\(at).room '\(room)' must be a room of \(raw.cluster), like \(raw.cluster)/funding")
            }
            routes.append(Route(cluster: raw.cluster, room: room, keywords: raw.keywords ?? [], areas: raw.areas ?? [],
                                tags: raw.tags ?? []))
        }
        guard !routes.isEmpty else { throw ConfigError("routes: at least one route") }

        return BotConfig(host: host, port: port, account: account, auth: auth, serverCheck: check,
                         stateDir: state_dir ?? "data/fundingbot", fetch: limits, posting: posting, feeds: feeds, routes: routes)
    }

    /// `host:port`, `[v6]:port`.
    static func hostPort(_ text: String) throws -> (String, Int) {
        let problem = ConfigError("server '\(text)' is not HOST:PORT (e.g. partnerline.example.org:7443 or [::1]:7443)")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { throw problem }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw problem }
        return (host, port)
    }

    /// Account and cluster names: `[a-z0-9][a-z0-9-]{1,31}`.
    static func isName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard (2...32).contains(bytes.count) else { return false }
        return bytes.enumerated().allSatisfy { i, c in
            (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c == 45 && i > 0)
        }
    }
}
