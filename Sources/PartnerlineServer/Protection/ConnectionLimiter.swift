import Foundation

/// Connection limits (pure): concurrent connections per address key, new connections per
/// address key per window, and a global maximum. The caller passes the time.
struct ConnectionLimits: Sendable {
    enum Refusal: Equatable, Sendable {
        case tooManyFromAddress(Int)
        case tooManyNewFromAddress(Int, windowSeconds: Double)
        case serverFull(Int)

        var message: String {
            switch self {
            case .tooManyFromAddress(let limit):
                return "at most \(limit) connections at once from one address"
            case .tooManyNewFromAddress(let limit, let window):
                return "at most \(limit) new connections from one address per \(Int(window)) s; try again later"
            case .serverFull(let limit):
                return "the server is full (\(limit) connections)"
            }
        }
    }

    let maxPerAddress: Int
    let maxNewPerAddress: Int
    let windowSeconds: Double
    let maxTotal: Int

    private var open: [AddressKey: Int] = [:]
    private var total = 0
    /// Start of each address's current window and the connections it has seen in it.
    private var recent: [AddressKey: (windowStart: Double, count: Int)] = [:]

    init(maxPerAddress: Int, maxNewPerAddress: Int, windowSeconds: Double, maxTotal: Int) {
        self.maxPerAddress = maxPerAddress
        self.maxNewPerAddress = maxNewPerAddress
        self.windowSeconds = windowSeconds
        self.maxTotal = maxTotal
    }

    var openConnections: Int { total }
    func openConnections(from key: AddressKey) -> Int { open[key] ?? 0 }

    /// Counts a new connection, or says why it is refused (a refused one is not counted as
    /// open, but it does count as an attempt in the address's window).
    mutating func admit(_ key: AddressKey, now: Double) -> Refusal? {
        var window = recent[key] ?? (now, 0)
        if now - window.windowStart >= windowSeconds { window = (now, 0) }
        window.count += 1
        recent[key] = window
        pruneWindows(now)
        if total >= maxTotal { return .serverFull(maxTotal) }
        if (open[key] ?? 0) >= maxPerAddress { return .tooManyFromAddress(maxPerAddress) }
        if window.count > maxNewPerAddress { return .tooManyNewFromAddress(maxNewPerAddress, windowSeconds: windowSeconds) }
        open[key, default: 0] += 1
        total += 1
        return nil
    }

    /// An admitted connection has closed.
    mutating func release(_ key: AddressKey) {
        guard let count = open[key] else { return }
        open[key] = count > 1 ? count - 1 : nil
        total -= 1
    }

    /// Keeps the table of windows bounded: drops expired ones once it grows.
    private mutating func pruneWindows(_ now: Double) {
        guard recent.count > 4096 else { return }
        recent = recent.filter { now - $0.value.windowStart < windowSeconds }
    }
}

/// ConnectionLimits shared by the listeners' connections (which arrive on several I/O queues).
final class ConnectionLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var limits: ConnectionLimits

    init(_ limits: ConnectionLimits) { self.limits = limits }

    func admit(_ key: AddressKey) -> ConnectionLimits.Refusal? {
        lock.lock()
        defer { lock.unlock() }
        return limits.admit(key, now: MonotonicClock.seconds())
    }

    func release(_ key: AddressKey) {
        lock.lock()
        limits.release(key)
        lock.unlock()
    }

    var openConnections: Int {
        lock.lock()
        defer { lock.unlock() }
        return limits.openConnections
    }
}

enum MonotonicClock {
    /// Seconds since boot; never jumps with the wall clock.
    static func seconds() -> Double {
        Double(DispatchTime.now().uptimeNanoseconds) / 1_000_000_000
    }
}
