/// The timeouts of one connection (pure; the caller passes monotonic seconds):
/// - a TLS handshake must finish within `handshake` seconds, or the socket is dropped;
/// - a client must LOGIN within `registration` seconds of its greeting;
/// - after `idle` seconds without a line from the client the server sends `PING <token>`, and
///   a client that sends nothing within `pingTimeout` seconds more is disconnected.
/// Any line from the client counts as a sign of life (PONG included).
struct SessionClock: Sendable {
    struct Timeouts: Sendable, Equatable {
        var handshake: Double
        var registration: Double
        var idle: Double
        var pingTimeout: Double
    }

    enum Action: Equatable, Sendable {
        /// Nothing due; look again at this time.
        case wait(until: Double)
        /// Send `PING <token>`.
        case ping(token: String)
        /// The handshake did not finish: close without a word (there is no TLS to speak over).
        case drop
        /// Say `BYE <code> :<text>` and close.
        case bye(code: String, text: String)
    }

    let timeouts: Timeouts
    private let startedAt: Double
    private var readyAt: Double?
    private var loggedIn = false
    private var lastHeard: Double
    private var pingSentAt: Double?
    private var pings = 0
    private var finished = false

    init(timeouts: Timeouts, now: Double) {
        self.timeouts = timeouts
        startedAt = now
        lastHeard = now
    }

    /// The handshake finished (at once, for plaintext).
    mutating func ready(now: Double) {
        readyAt = now
        lastHeard = now
    }

    mutating func heard(now: Double) {
        lastHeard = now
        pingSentAt = nil
    }

    mutating func loggedIn(now: Double) { loggedIn = true }

    /// What to do now; call again at `.wait(until:)` or after any other action.
    mutating func next(now: Double) -> Action {
        guard !finished else { return .wait(until: .infinity) }
        guard let readyAt else {
            let deadline = startedAt + timeouts.handshake
            if now >= deadline {
                finished = true
                return .drop
            }
            return .wait(until: deadline)
        }
        var due = Double.infinity
        if !loggedIn {
            let deadline = readyAt + timeouts.registration
            if now >= deadline {
                finished = true
                return .bye(code: "LOGIN_TIMEOUT", text: "no LOGIN within \(Self.seconds(timeouts.registration)); reconnect and LOGIN")
            }
            due = deadline
        }
        if let pingSentAt {
            let deadline = pingSentAt + timeouts.pingTimeout
            if now >= deadline {
                finished = true
                return .bye(code: "PING_TIMEOUT", text: "no answer to PING within \(Self.seconds(timeouts.pingTimeout))")
            }
            return .wait(until: min(due, deadline))
        }
        let idleDeadline = lastHeard + timeouts.idle
        if now >= idleDeadline {
            pingSentAt = now
            pings += 1
            return .ping(token: "pl\(pings)")
        }
        return .wait(until: min(due, idleDeadline))
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }
}
