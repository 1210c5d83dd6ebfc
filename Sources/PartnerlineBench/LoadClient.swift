import Dispatch
import Foundation
import PartnerlineClient
import PartnerlineTransport

/// The wire dialect a load client speaks.
public enum BenchProtocol: String, Sendable, CaseIterable, Codable {
    /// Partnerline: REGISTER/LOGIN/JOIN, SAY acknowledged by OK (after the journal append).
    case partnerline
    /// IRC: NICK/USER/JOIN, PRIVMSG; a PING after each post stands in for an acknowledgement
    /// (the server answers it after the PRIVMSG before it has been handed to every member).
    case irc
}

/// What a client does once it is set up.
enum ClientRole: Codable, Sendable {
    /// Only listens (and answers PING).
    case idle
    /// Keeps `window` posts outstanding while the run is sending.
    case windowed(window: Int)
    /// Posts every `intervalNanos` while the run is sending.
    case paced(intervalNanos: UInt64)
    /// HISTORY requests, one at a time, `before=` spread over 2...lastSeq.
    case historyReader(lastSeq: UInt64, limit: Int)
}

/// One benchmark connection: sets itself up (greeting, login, join), then posts, reads and
/// measures, all on its connection's queue. Post text is `T<send-nanos> ` padded to
/// `messageBytes`, so any receiver computes the post->delivery latency from the line alone.
final class LoadClient: ConnectionHandler, @unchecked Sendable {
    enum Phase { case connecting, settingUp, ready, failed }

    let connection: Connection
    let proto: BenchProtocol
    let name: String
    let room: String
    let role: ClientRole
    let stats: QueueStats
    let control: RunControl
    let messageBytes: Int
    private let connectStarted: UInt64
    /// Called once, on the client's queue, when set up (true) or failed (false).
    private let onSetup: @Sendable (Bool) -> Void
    /// Whether to log in and join (false: greeting only, for idle-connection scale runs).
    private let joins: Bool

    private var phase: Phase = .connecting
    private var splitter = LineSplitter()
    private var repliesPending = 0
    private var outstanding = 0
    /// Send times of outstanding posts/requests, oldest first (replies come in order).
    private var sendTimes: [UInt64] = []
    private var sendTimesHead = 0
    private var postPrefix: [UInt8] = []
    private var postSuffix: [UInt8] = []
    private var scratch: [UInt8] = []
    private var random = SystemRandomNumberGenerator()

    init(connection: Connection, proto: BenchProtocol, name: String, room: String, role: ClientRole, joins: Bool,
         stats: QueueStats, control: RunControl, messageBytes: Int, connectStarted: UInt64,
         onSetup: @escaping @Sendable (Bool) -> Void) {
        self.connection = connection
        self.proto = proto
        self.name = name
        self.room = room
        self.role = role
        self.joins = joins
        self.stats = stats
        self.control = control
        self.messageBytes = max(24, messageBytes)
        self.connectStarted = connectStarted
        self.onSetup = onSetup
        switch proto {
        case .partnerline:
            postPrefix = Array("SAY \(room) :T".utf8)
            postSuffix = Array(" ".utf8)
        case .irc:
            postPrefix = Array("PRIVMSG #\(room.split(separator: "/").last ?? "r1") :T".utf8)
            postSuffix = Array(" ".utf8)
        }
    }

    // MARK: ConnectionHandler

    func connectionReady(_ connection: Connection) {
        if proto == .irc {
            connection.send(Array("NICK \(name)\r\nUSER \(name) 0 * :\(name)\r\n".utf8))
        }
    }

    func connection(_ connection: Connection, didReceive bytes: UnsafeRawBufferPointer) {
        splitter.feed(bytes) { line in
            switch proto {
            case .partnerline: handlePartnerline(line)
            case .irc: handleIRC(line)
            }
        }
    }

    func connectionClosed(_ connection: Connection, reason: CloseReason) {
        if phase != .failed && reason != .localClose {
            stats.recordError("\(name): connection closed: \(reason)")
        }
        fail()
    }

    // MARK: Partnerline

    private func handlePartnerline(_ line: UnsafeRawBufferPointer) {
        switch ServerLineScan.kind(line) {
        case .event:
            if line.first == UInt8(ascii: "@") { return }   // HISTORY lines are not deliveries
            recordDelivery(line)
        case .ok:
            if phase == .settingUp { return setupReply(ok: true, line) }
            acknowledge()
        case .err:
            if phase == .settingUp { return setupReply(ok: false, line) }
            stats.recordError("\(name): \(String(decoding: line, as: UTF8.self))")
            acknowledge()
        case .hello:
            guard phase == .connecting else { return }
            stats.connect.record(max(1, (nowNanos() - connectStarted) / 1000))
            guard joins else { return becomeReady() }
            phase = .settingUp
            let password = "bench-\(name)-pw"
            repliesPending = 3
            send(.register(name, password: password))
            send(.login(name, password: password))
            send(.join(room))
        case .ping:
            // Rare: read with the library's tokenizer (the token may in principle be quoted).
            if case .ping(let token) = ServerMessage(bytes: line) { send(.pong(token)) }
        case .bye:
            stats.recordError("\(name): \(String(decoding: line, as: UTF8.self))")
        case .data, .notice, .read, .other:
            return
        }
    }

    /// Encodes with the client library (same quoting as the server); a command that cannot be
    /// encoded is a bench bug, recorded as an error rather than sent half-formed.
    private func send(_ command: ClientCommand, tag: String? = nil) {
        do {
            connection.send(try command.encoded(tag: tag))
        } catch {
            stats.recordError("\(name): \(error)")
            fail()
        }
    }

    /// REGISTER may fail with ACCOUNT_EXISTS (a server used before); LOGIN and JOIN must succeed.
    private func setupReply(ok: Bool, _ line: UnsafeRawBufferPointer) {
        repliesPending -= 1
        if !ok && repliesPending < 2 {
            stats.recordError("\(name) setup: \(String(decoding: line, as: UTF8.self))")
            fail()
            connection.close(flush: false)
            return
        }
        if repliesPending == 0 { becomeReady() }
    }

    // MARK: IRC

    private func handleIRC(_ line: UnsafeRawBufferPointer) {
        if phase == .connecting {
            stats.connect.record(max(1, (nowNanos() - connectStarted) / 1000))
            phase = .settingUp
        }
        if Self.startsWith("PING ", line) {
            var reply = Array("PONG ".utf8)
            reply.append(contentsOf: UnsafeRawBufferPointer(rebasing: line[5...]))
            reply.append(contentsOf: "\r\n".utf8)
            return connection.send(reply)
        }
        // ":prefix COMMAND params"; the command is the second word.
        guard line.count > 0, let found = memchr(line.baseAddress!, 32, line.count) else { return }
        let space = UnsafeRawPointer(found) - line.baseAddress!
        let command = space + 1
        func isCommand(_ word: StaticString) -> Bool {
            ServerLineScan.find(word, in: line, from: command) == command
        }
        if isCommand("PRIVMSG ") {
            recordDelivery(line, from: command + 8)
        } else if isCommand("PONG ") {
            if phase == .ready { acknowledge() }
        } else if isCommand("001 ") {
            guard joins else { return becomeReady() }
            connection.send(Array("JOIN #\(room.split(separator: "/").last ?? "r1")\r\n".utf8))
        } else if isCommand("366 ") {
            if phase == .settingUp { becomeReady() }
        } else if isCommand("422 ") {
            return   // ERR_NOMOTD: no message of the day, not a failure
        } else if line.count > command + 3, line[command] == UInt8(ascii: "4") || line[command] == UInt8(ascii: "5") {
            stats.recordError("\(name): \(String(decoding: line, as: UTF8.self))")
            if phase == .settingUp { fail() }
        } else if Self.startsWith("ERROR ", line) {
            stats.recordError("\(name): \(String(decoding: line, as: UTF8.self))")
        }
    }

    /// The PING after each IRC post (its PONG stands in for the acknowledgement), made once.
    private static let ircPing: [UInt8] = Array("PING :w\r\n".utf8)

    /// Whether the line begins with `prefix` (a check at the start only, not a search of the line).
    @inline(__always)
    private static func startsWith(_ prefix: StaticString, _ line: UnsafeRawBufferPointer) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard line.count >= count else { return false }
        return memcmp(line.baseAddress!, prefix.utf8Start, count) == 0
    }

    // MARK: Running

    private func becomeReady() {
        phase = .ready
        onSetup(true)
    }

    private func fail() {
        guard phase != .failed else { return }
        let wasSettingUp = phase != .ready
        phase = .failed
        if wasSettingUp { onSetup(false) }
    }

    /// Starts posting (on this client's queue) per its role.
    func start() {
        guard phase == .ready else { return }
        switch role {
        case .idle:
            return
        case .windowed(let window):
            for _ in 0..<window { sendNext() }
        case .historyReader:
            sendNext()
        case .paced:
            return   // its queue's PacedPoster calls postPaced()
        }
    }

    /// One paced post (from its queue's `PacedPoster`, on this client's queue).
    func postPaced() {
        guard phase == .ready, control.sending.load(ordering: .relaxed) else { return }
        post()
    }

    private func sendNext() {
        guard control.sending.load(ordering: .relaxed), phase == .ready else { return }
        if case .historyReader(let lastSeq, let limit) = role {
            let before = lastSeq > 2 ? UInt64.random(in: 2...lastSeq, using: &random) : 2
            noteSent()
            send(.history(room, before: before, limit: limit), tag: "h")
            return
        }
        post()
        if proto == .irc {
            connection.send(Self.ircPing)
        }
    }

    /// One post, `messageBytes` of text starting with `T<now>`.
    private func post() {
        let now = nowNanos()
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: postPrefix)
        appendDecimal(now, to: &scratch)
        scratch.append(contentsOf: postSuffix)
        let textStart = postPrefix.count - 1   // the 'T'
        let textLength = scratch.count - textStart
        if textLength < messageBytes {
            scratch.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: messageBytes - textLength))
        }
        scratch.append(13)
        scratch.append(10)
        if case .windowed = role { noteSent(now) }
        stats.posted += 1
        connection.send(scratch)
    }

    private func noteSent(_ time: UInt64 = nowNanos()) {
        outstanding += 1
        sendTimes.append(time)
    }

    /// A final reply to our oldest outstanding post or request.
    private func acknowledge() {
        guard sendTimesHead < sendTimes.count else {
            stats.acks += 1   // a paced post: counted, not timed (its delivery latency is)
            return
        }
        let sent = sendTimes[sendTimesHead]
        sendTimesHead += 1
        if sendTimesHead == sendTimes.count {
            sendTimes.removeAll(keepingCapacity: true)
            sendTimesHead = 0
        }
        outstanding -= 1
        stats.acks += 1
        stats.ack.record(max(1, (nowNanos() &- sent) / 1000))
        sendNext()
    }

    /// `from`: where the marker search may start (past the prefix and command of an IRC line).
    private func recordDelivery(_ line: UnsafeRawBufferPointer, from: Int = 0) {
        stats.deliveries += 1
        guard let marker = ServerLineScan.find(" :T", in: line, from: from),
              let sent = ServerLineScan.decimal(in: line, at: marker + 3) else { return }
        let now = nowNanos()
        stats.delivery.record(now > sent ? max(1, (now - sent) / 1000) : 1)
    }
}

@inline(__always)
func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var n = value
    var count = 0
    withUnsafeMutableBytes(of: &digits) { buffer in
        repeat {
            buffer[19 - count] = UInt8(48 + n % 10)
            n /= 10
            count += 1
        } while n > 0
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
    }
}
