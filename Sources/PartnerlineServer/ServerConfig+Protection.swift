import PartnerlineConfig
import Foundation

extension ServerConfig {
    /// Limits that keep one client (or one address) from hurting everyone else: flood control,
    /// connection limits, timeouts and failed-LOGIN throttling. The `protection:` section of the
    /// YAML; Config/partnerline.yaml and the Limits article document every key.
    public struct Protection: Sendable, Codable, Equatable {
        public struct Flood: Sendable, Codable, Equatable {
            /// Commands a member may send at once before fake lag starts.
            public var burst = 16
            /// Commands per second a member's bucket refills at.
            public var ratePerSecond = 4.0
            /// The same for bots (role bot, or logged in with a client certificate): alerts come in batches.
            public var botBurst = 200
            public var botRatePerSecond = 50.0
            /// Commands that may wait for the bucket (fake lag); later ones are answered ERR RATE_LIMITED.
            public var maxDelayed = 32

            public init() {}

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                burst = try c.decodeIfPresent(Int.self, forKey: .burst) ?? burst
                ratePerSecond = try c.decodeIfPresent(Double.self, forKey: .ratePerSecond) ?? ratePerSecond
                botBurst = try c.decodeIfPresent(Int.self, forKey: .botBurst) ?? botBurst
                botRatePerSecond = try c.decodeIfPresent(Double.self, forKey: .botRatePerSecond) ?? botRatePerSecond
                maxDelayed = try c.decodeIfPresent(Int.self, forKey: .maxDelayed) ?? maxDelayed
            }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case burst, ratePerSecond = "rate_per_second", botBurst = "bot_burst"
                case botRatePerSecond = "bot_rate_per_second", maxDelayed = "max_delayed"
            }
        }

        public struct Connections: Sendable, Codable, Equatable {
            /// Open connections at once from one IPv4 address or one IPv6 /64.
            public var maxPerAddress = 16
            /// New connections from one address key per window.
            public var maxNewPerAddress = 60
            public var newWindowSeconds = 60.0
            /// Open connections in all.
            public var maxTotal = 10_000

            public init() {}

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                maxPerAddress = try c.decodeIfPresent(Int.self, forKey: .maxPerAddress) ?? maxPerAddress
                maxNewPerAddress = try c.decodeIfPresent(Int.self, forKey: .maxNewPerAddress) ?? maxNewPerAddress
                newWindowSeconds = try c.decodeIfPresent(Double.self, forKey: .newWindowSeconds) ?? newWindowSeconds
                maxTotal = try c.decodeIfPresent(Int.self, forKey: .maxTotal) ?? maxTotal
            }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case maxPerAddress = "max_per_address", maxNewPerAddress = "max_new_per_address"
                case newWindowSeconds = "new_window_seconds", maxTotal = "max_total"
            }
        }

        public struct Timeouts: Sendable, Codable, Equatable {
            /// A TLS handshake not finished by then is dropped.
            public var handshakeSeconds = 5.0
            /// A client that has not logged in by then gets BYE LOGIN_TIMEOUT.
            public var registrationSeconds = 60.0
            /// Silence after which the server sends PING.
            public var idleSeconds = 120.0
            /// Further silence after a PING before BYE PING_TIMEOUT.
            public var pingTimeoutSeconds = 60.0

            public init() {}

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                handshakeSeconds = try c.decodeIfPresent(Double.self, forKey: .handshakeSeconds) ?? handshakeSeconds
                registrationSeconds = try c.decodeIfPresent(Double.self, forKey: .registrationSeconds) ?? registrationSeconds
                idleSeconds = try c.decodeIfPresent(Double.self, forKey: .idleSeconds) ?? idleSeconds
                pingTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .pingTimeoutSeconds) ?? pingTimeoutSeconds
            }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case handshakeSeconds = "handshake_seconds", registrationSeconds = "registration_seconds"
                case idleSeconds = "idle_seconds", pingTimeoutSeconds = "ping_timeout_seconds"
            }
        }

        public struct Logins: Sendable, Codable, Equatable {
            /// Failed LOGINs for one account per window before LOGINs for it are refused.
            public var maxFailuresPerAccount = 5
            /// Failed LOGINs from one address key per window before LOGINs from it are refused.
            public var maxFailuresPerAddress = 20
            public var windowSeconds = 300.0

            public init() {}

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                maxFailuresPerAccount = try c.decodeIfPresent(Int.self, forKey: .maxFailuresPerAccount) ?? maxFailuresPerAccount
                maxFailuresPerAddress = try c.decodeIfPresent(Int.self, forKey: .maxFailuresPerAddress) ?? maxFailuresPerAddress
                windowSeconds = try c.decodeIfPresent(Double.self, forKey: .windowSeconds) ?? windowSeconds
            }

            enum CodingKeys: String, CodingKey, CaseIterable {
                case maxFailuresPerAccount = "max_failures_per_account", maxFailuresPerAddress = "max_failures_per_address"
                case windowSeconds = "window_seconds"
            }
        }

        /// The password-hashing queue (REGISTER and LOGIN), shared by every connection.
        public struct Hashing: Sendable, Codable, Equatable {
            /// Hashes waiting for a hashing thread (`passwords.hashing_threads`), in all; beyond
            /// that REGISTER and LOGIN are answered ERR RATE_LIMITED (the server is busy).
            public var maxQueued = 16

            public init() {}

            public init(from decoder: Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                maxQueued = try c.decodeIfPresent(Int.self, forKey: .maxQueued) ?? maxQueued
            }

            enum CodingKeys: String, CodingKey, CaseIterable { case maxQueued = "max_queued" }
        }

        public var flood = Flood()
        public var connections = Connections()
        public var timeouts = Timeouts()
        public var logins = Logins()
        public var hashing = Hashing()

        public init() {}

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            flood = try c.decodeIfPresent(Flood.self, forKey: .flood) ?? flood
            connections = try c.decodeIfPresent(Connections.self, forKey: .connections) ?? connections
            timeouts = try c.decodeIfPresent(Timeouts.self, forKey: .timeouts) ?? timeouts
            logins = try c.decodeIfPresent(Logins.self, forKey: .logins) ?? logins
            hashing = try c.decodeIfPresent(Hashing.self, forKey: .hashing) ?? hashing
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case flood, connections, timeouts, logins, hashing }

        static let shape: ConfigShape = .section(CodingKeys.self, [
            .flood: .section(Flood.CodingKeys.self), .connections: .section(Connections.CodingKeys.self),
            .timeouts: .section(Timeouts.CodingKeys.self), .logins: .section(Logins.CodingKeys.self),
            .hashing: .section(Hashing.CodingKeys.self),
        ])

        func validate(maxQueuedCommands: Int) throws {
            guard flood.burst >= 1, flood.botBurst >= 1, flood.ratePerSecond > 0, flood.botRatePerSecond > 0 else {
                throw ConfigError("protection.flood: burst and bot_burst >= 1, rates > 0")
            }
            // max_delayed above limits.max_queued_commands is allowed: the hard cap then acts first.
            guard flood.maxDelayed >= 1 else {
                throw ConfigError("protection.flood.max_delayed must be at least 1")
            }
            guard connections.maxPerAddress >= 1, connections.maxNewPerAddress >= 1, connections.newWindowSeconds > 0,
                  connections.maxTotal >= 1 else {
                throw ConfigError("protection.connections: every limit must be at least 1")
            }
            guard timeouts.handshakeSeconds > 0, timeouts.registrationSeconds > 0, timeouts.idleSeconds > 0,
                  timeouts.pingTimeoutSeconds > 0 else {
                throw ConfigError("protection.timeouts: every timeout must be above 0")
            }
            guard logins.maxFailuresPerAccount >= 1, logins.maxFailuresPerAddress >= 1, logins.windowSeconds > 0 else {
                throw ConfigError("protection.logins: limits must be at least 1 and the window above 0")
            }
            guard hashing.maxQueued >= 1 else {
                throw ConfigError("protection.hashing.max_queued must be at least 1")
            }
        }
    }

    /// A client certificate that logs in as an account (`LOGIN <account> *`): bots that would
    /// otherwise keep a password in a file.
    public struct ClientCertificate: Sendable, Codable, Equatable {
        /// SHA-256 of the DER certificate, hex, colons and case ignored
        /// (`openssl x509 -in bot.crt -noout -fingerprint -sha256`).
        public var sha256: String
        public var account: String

        enum CodingKeys: String, CodingKey, CaseIterable { case sha256, account }

        public init(sha256: String, account: String) {
            self.sha256 = sha256
            self.account = account
        }

        /// Lower-case hex without separators.
        var normalizedFingerprint: String {
            sha256.lowercased().filter { $0.isHexDigit }
        }
    }
}
