import Foundation

/// Failed-LOGIN throttling (pure): after `maxFailures` failures for one account, or
/// `maxFailuresPerAddress` from one address key, within a window, further LOGINs for that
/// account or from that address are refused without checking a password until the window
/// ends. A success clears its account's count (not the address's: one good account must not
/// reset a guesser's count). The caller passes the time.
struct LoginThrottle: Sendable {
    struct Block: Equatable, Sendable {
        /// "account boston-mind" or "address 192.0.2.7".
        var what: String
        var retryAfterSeconds: Int
    }

    private struct Window { var start: Double; var failures: Int }

    let maxFailuresPerAccount: Int
    let maxFailuresPerAddress: Int
    let windowSeconds: Double
    private var accounts: [String: Window] = [:]
    private var addresses: [AddressKey: Window] = [:]

    init(maxFailuresPerAccount: Int, maxFailuresPerAddress: Int, windowSeconds: Double) {
        self.maxFailuresPerAccount = maxFailuresPerAccount
        self.maxFailuresPerAddress = maxFailuresPerAddress
        self.windowSeconds = windowSeconds
    }

    /// Whether a LOGIN may be tried now.
    func check(account: String, address: AddressKey, now: Double) -> Block? {
        if let window = addresses[address], now - window.start < windowSeconds, window.failures >= maxFailuresPerAddress {
            return Block(what: "address \(address)", retryAfterSeconds: retry(window, now))
        }
        if let window = accounts[account], now - window.start < windowSeconds, window.failures >= maxFailuresPerAccount {
            return Block(what: "account \(account)", retryAfterSeconds: retry(window, now))
        }
        return nil
    }

    mutating func recordFailure(account: String, address: AddressKey, now: Double) {
        prune(now)
        accounts[account] = bump(accounts[account], now)
        addresses[address] = bump(addresses[address], now)
    }

    mutating func recordSuccess(account: String) {
        accounts[account] = nil
    }

    private func bump(_ window: Window?, _ now: Double) -> Window {
        guard var window, now - window.start < windowSeconds else { return Window(start: now, failures: 1) }
        window.failures += 1
        return window
    }

    private func retry(_ window: Window, _ now: Double) -> Int {
        max(1, Int((window.start + windowSeconds - now).rounded(.up)))
    }

    /// Bounded memory whatever a guesser tries: expired windows go once the tables grow.
    private mutating func prune(_ now: Double) {
        if accounts.count > 10_000 { accounts = accounts.filter { now - $0.value.start < windowSeconds } }
        if addresses.count > 10_000 { addresses = addresses.filter { now - $0.value.start < windowSeconds } }
    }
}

/// LoginThrottle shared by all sessions.
final class SharedLoginThrottle: @unchecked Sendable {
    private let lock = NSLock()
    private var throttle: LoginThrottle

    init(_ throttle: LoginThrottle) { self.throttle = throttle }

    func check(account: String, address: AddressKey) -> LoginThrottle.Block? {
        lock.lock()
        defer { lock.unlock() }
        return throttle.check(account: account, address: address, now: MonotonicClock.seconds())
    }

    func recordFailure(account: String, address: AddressKey) {
        lock.lock()
        throttle.recordFailure(account: account, address: address, now: MonotonicClock.seconds())
        lock.unlock()
    }

    func recordSuccess(account: String) {
        lock.lock()
        throttle.recordSuccess(account: account)
        lock.unlock()
    }
}
