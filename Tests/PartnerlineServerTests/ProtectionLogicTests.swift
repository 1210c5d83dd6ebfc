@testable import PartnerlineServer
import PartnerlineCore
import Testing

/// The pure parts of abuse protection, with the time passed in: no clocks, no sockets.
@Suite struct ProtectionLogicTests {
    @Test func tokenBucketGivesABurstThenRefillsAtItsRate() {
        var bucket = TokenBucket(burst: 5, ratePerSecond: 2, now: 100)
        var taken = 0
        while bucket.take(now: 100) { taken += 1 }
        #expect(taken == 5)
        let next = bucket.nextTokenAt(now: 100)
        #expect(next == 100.5)
        let tooEarly = bucket.take(now: 100.4)
        let onTime = bucket.take(now: 100.5)
        #expect(!tooEarly && onTime)
        // Never more than the burst, however long the pause.
        let later = bucket.available(now: 10_000)
        #expect(later == 5)
    }

    @Test func switchingToTheBotRateKeepsTheShareOfTheBurstLeft() {
        var bucket = TokenBucket(burst: 10, ratePerSecond: 1, now: 0)
        for _ in 0..<10 { _ = bucket.take(now: 0) }
        bucket.reconfigure(burst: 100, ratePerSecond: 50, now: 0)
        let atOnce = bucket.available(now: 0), afterOne = bucket.available(now: 1), afterFive = bucket.available(now: 5)
        #expect(atOnce == 0)   // an empty bucket stays empty
        #expect(afterOne == 50)
        #expect(afterFive == 100)
    }

    @Test func addressKeysCountIPv4ByAddressAndIPv6ByItsSlash64() {
        #expect(AddressKey(host: "192.0.2.7").description == "192.0.2.7")
        #expect(AddressKey(host: "::ffff:192.0.2.7") == AddressKey(host: "192.0.2.7"))
        #expect(AddressKey(host: "2001:db8:1:2:aaaa::1") == AddressKey(host: "2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(AddressKey(host: "2001:db8:1:2::1").description == "2001:db8:1:2::/64")
        #expect(AddressKey(host: "2001:db8:1:3::1") != AddressKey(host: "2001:db8:1:2::1"))
        #expect(AddressKey(host: "::1").description == "0:0:0:0::/64")
    }

    @Test func connectionLimitsPerAddressPerWindowAndInAll() {
        let a = AddressKey(host: "192.0.2.1"), b = AddressKey(host: "192.0.2.2")
        var limits = ConnectionLimits(maxPerAddress: 2, maxNewPerAddress: 3, windowSeconds: 10, maxTotal: 3)
        do { let got = limits.admit(a, now: 0); #expect(got == nil) }
        do { let got = limits.admit(a, now: 0); #expect(got == nil) }
        do { let got = limits.admit(a, now: 0); #expect(got == .tooManyFromAddress(2)) }
        limits.release(a)
        // Back under the concurrent limit, but this is the 4th attempt in the window.
        do { let got = limits.admit(a, now: 1); #expect(got == .tooManyNewFromAddress(3, windowSeconds: 10)) }
        do { let got = limits.admit(a, now: 10); #expect(got == nil) }   // a new window
        #expect(limits.openConnections(from: a) == 2)
        do { let got = limits.admit(b, now: 10); #expect(got == nil) }
        do { let got = limits.admit(AddressKey(host: "192.0.2.3"), now: 10); #expect(got == .serverFull(3)) }
        limits.release(b)
        #expect(limits.openConnections == 2)
        do { let got = limits.admit(AddressKey(host: "192.0.2.3"), now: 10); #expect(got == nil) }
    }

    @Test func failedLoginsAreThrottledPerAccountAndPerAddress() {
        let home = AddressKey(host: "192.0.2.1"), away = AddressKey(host: "198.51.100.1")
        var throttle = LoginThrottle(maxFailuresPerAccount: 3, maxFailuresPerAddress: 5, windowSeconds: 60)
        for _ in 0..<3 { throttle.recordFailure(account: "boston-mind", address: home, now: 0) }
        #expect(throttle.check(account: "boston-mind", address: away, now: 1) == .init(what: "account boston-mind", retryAfterSeconds: 59))
        #expect(throttle.check(account: "lincoln-aid", address: home, now: 1) == nil)
        #expect(throttle.check(account: "boston-mind", address: home, now: 60) == nil)   // the window ended
        // Per address: many accounts from one place.
        for index in 0..<5 { throttle.recordFailure(account: "guess-\(index)", address: away, now: 100) }
        #expect(throttle.check(account: "someone-else", address: away, now: 101)?.what == "address 198.51.100.1")
        // A success clears its account, not the address.
        throttle.recordFailure(account: "lincoln-aid", address: home, now: 200)
        throttle.recordFailure(account: "lincoln-aid", address: home, now: 200)
        throttle.recordSuccess(account: "lincoln-aid")
        throttle.recordFailure(account: "lincoln-aid", address: home, now: 200)
        #expect(throttle.check(account: "lincoln-aid", address: home, now: 200) == nil)
    }

    private let timeouts = SessionClock.Timeouts(handshake: 5, registration: 60, idle: 120, pingTimeout: 30)

    @Test func aHandshakeThatNeverFinishesIsDropped() {
        var clock = SessionClock(timeouts: timeouts, now: 0)
        do { let got = clock.next(now: 1); #expect(got == .wait(until: 5)) }
        do { let got = clock.next(now: 5); #expect(got == .drop) }
        do { let got = clock.next(now: 6); #expect(got == .wait(until: .infinity)) }
    }

    @Test func aClientThatNeverLogsInIsToldWhy() {
        var clock = SessionClock(timeouts: timeouts, now: 0)
        clock.ready(now: 1)
        do { let got = clock.next(now: 1); #expect(got == .wait(until: 61)) }
        clock.heard(now: 30)
        let timedOut = clock.next(now: 61)
        guard case .bye(let code, _) = timedOut else { Issue.record("no BYE"); return }
        #expect(code == "LOGIN_TIMEOUT")
    }

    @Test func silenceBringsAPingThenAPingTimeout() {
        var clock = SessionClock(timeouts: timeouts, now: 0)
        clock.ready(now: 0)
        clock.loggedIn(now: 2)
        do { let got = clock.next(now: 2); #expect(got == .wait(until: 120)) }
        clock.heard(now: 100)
        do { let got = clock.next(now: 120); #expect(got == .wait(until: 220)) }
        do { let got = clock.next(now: 220); #expect(got == .ping(token: "pl1")) }
        do { let got = clock.next(now: 221); #expect(got == .wait(until: 250)) }
        clock.heard(now: 240)   // the PONG
        do { let got = clock.next(now: 240); #expect(got == .wait(until: 360)) }
        do { let got = clock.next(now: 360); #expect(got == .ping(token: "pl2")) }
        let timedOut = clock.next(now: 390)
        guard case .bye(let code, _) = timedOut else { Issue.record("no BYE"); return }
        #expect(code == "PING_TIMEOUT")
    }

    @Test func protectionConfigReadsEveryKeyAndRefusesNonsense() throws {
        let yaml = """
            clusters: [{ name: rural-east-midlands, rooms: [{ name: general }] }]
            protection:
              flood: { burst: 5, rate_per_second: 2, bot_burst: 50, bot_rate_per_second: 10, max_delayed: 8 }
              connections: { max_per_address: 4, max_new_per_address: 9, new_window_seconds: 30, max_total: 100 }
              timeouts: { handshake_seconds: 2, registration_seconds: 20, idle_seconds: 90, ping_timeout_seconds: 15 }
              logins: { max_failures_per_account: 3, max_failures_per_address: 7, window_seconds: 600 }
            tls:
              client_certificates:
                - { sha256: "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89", account: funding-bot }
            """
        let config = try ServerConfig.parse(yaml: yaml)
        let p = config.protection
        #expect(p.flood.burst == 5 && p.flood.ratePerSecond == 2 && p.flood.botBurst == 50 && p.flood.botRatePerSecond == 10 && p.flood.maxDelayed == 8)
        #expect(p.connections.maxPerAddress == 4 && p.connections.maxNewPerAddress == 9 && p.connections.newWindowSeconds == 30 && p.connections.maxTotal == 100)
        #expect(p.timeouts.handshakeSeconds == 2 && p.timeouts.registrationSeconds == 20 && p.timeouts.idleSeconds == 90 && p.timeouts.pingTimeoutSeconds == 15)
        #expect(p.logins.maxFailuresPerAccount == 3 && p.logins.maxFailuresPerAddress == 7 && p.logins.windowSeconds == 600)
        #expect(config.tls.clientCertificates.first?.normalizedFingerprint == String(repeating: "abcdef0123456789", count: 4))
        let defaults = try ServerConfig.parse(yaml: "clusters: [{ name: rural-east-midlands, rooms: [{ name: general }] }]")
        #expect(defaults.protection == ServerConfig.Protection())

        for bad in ["protection: { flood: { burst: 0 } }", "protection: { flood: { rate_per_second: 0 } }",
                    "protection: { connections: { max_per_address: 0 } }", "protection: { timeouts: { handshake_seconds: 0 } }",
                    "protection: { logins: { window_seconds: -1 } }",
                    "tls: { client_certificates: [{ sha256: abc, account: funding-bot }] }",
                    "tls: { client_certificates: [{ sha256: \"\(String(repeating: "ab", count: 32))\", account: Bad_Name }] }"] {
            #expect(throws: ConfigError.self, "\(bad)") {
                try ServerConfig.parse(yaml: "clusters: [{ name: rural-east-midlands, rooms: [{ name: general }] }]\n" + bad)
            }
        }
    }

    @Test func reconfiguringAClusterAddsRoomsAndChangesTopics() {
        var state = ClusterState(definition: ClusterDefinition(name: "rural-east-midlands", description: "old",
                                                               rooms: [.init(name: "general", topic: "Hello"), .init(name: "funding", topic: "Grants")]))
        let changes = state.reconfigure(ClusterDefinition(name: "rural-east-midlands", description: "new",
                                                          rooms: [.init(name: "general", topic: "Welcome"), .init(name: "premises", topic: "Rooms")]))
        #expect(changes == ["description of rural-east-midlands", "topic of rural-east-midlands/general", "new room rural-east-midlands/premises"])
        #expect(state.orderedRooms.map(\.name.room) == ["general", "funding", "premises"])
        #expect(state.orderedRooms.map(\.topic) == ["Welcome", "Grants", "Rooms"])
        #expect(state.description == "new")
    }
}
