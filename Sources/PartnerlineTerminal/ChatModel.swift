import Foundation

/// A command line for the server, with the tag its reply will carry.
public struct Outgoing: Sendable, Equatable {
    public var tag: String
    public var line: String

    /// The wire form: `@tag LINE`.
    public var wire: String { "@\(tag) \(line)" }
}

/// Whether the client is connected; shown on the activity line.
public enum LinkStatus: Sendable, Equatable {
    case connecting
    case online
    /// Lost; the next attempt is in `retrySeconds`.
    case away(reason: String, retrySeconds: Int)
}

/// The client's state: windows, items, what each sent command is for, connection status.
/// A fold of server lines (`receive`) and of what the user types (`submit`, window keys); it does
/// no I/O. Both folds return the command lines to send, so opening pages, MARK and the paste guard are
/// decided here and unit-tested without a terminal or a socket.
public struct ChatModel: Sendable {
    public let account: String
    public internal(set) var windows: [ChatWindow]
    /// Index into `windows` of the window shown.
    public internal(set) var current = 0
    public let scrollbackLimit: Int
    public internal(set) var items: [String: ItemCard] = [:]
    public internal(set) var knownRooms: Set<String> = []
    public internal(set) var knownAccounts: Set<String> = []
    public internal(set) var status: LinkStatus = .connecting
    /// A multi-line paste waiting for the user's yes or no.
    public internal(set) var heldPaste: [String]?
    /// Set by /quit; the app exits after sending what `submit` returned.
    public internal(set) var quitRequested = false
    /// The server answered MARK with UNKNOWN_COMMAND (a 1.0 server): stop sending it.
    public internal(set) var marksSupported = true
    var bell = false
    /// The line /find last stopped at (the next /find looks above it).
    var findCursor: Int?
    var pending: [String: PendingCommand] = [:]
    var nextTag = 1
    /// Rooms whose opening page (the newest events, when the window first opens) was asked for.
    var pagesAsked: Set<String> = []
    /// MARKs sent and not yet answered, per room (so one is not sent twice).
    var marksInFlight: [String: UInt64] = [:]
    /// How many events a window shows when it first opens (one HISTORY page back).
    public var initialHistory = 50

    public init(account: String, scrollbackLimit: Int = 2000) {
        self.account = account
        self.scrollbackLimit = scrollbackLimit
        windows = [ChatWindow(name: ChatWindow.serverName, scrollbackLimit: scrollbackLimit)]
    }

    public var currentWindow: ChatWindow { windows[current] }

    public func index(of name: String) -> Int? { windows.firstIndex { $0.name == name } }

    /// True once after something asked for the terminal bell (a highlight or a match).
    public mutating func takeBell() -> Bool {
        defer { bell = false }
        return bell
    }

    // MARK: windows

    /// Opens a room's window (in name order after the server window) if it has none.
    @discardableResult
    mutating func ensureWindow(_ room: String) -> Int {
        if let index = index(of: room) { return index }
        knownRooms.insert(room)
        let shown = windows[current].name
        windows.append(ChatWindow(name: room, scrollbackLimit: scrollbackLimit))
        let rooms = windows.dropFirst().sorted { $0.name < $1.name }
        windows = [windows[0]] + rooms
        current = index(of: shown) ?? 0
        return index(of: room)!
    }

    mutating func closeWindow(_ room: String) {
        guard let index = index(of: room), index > 0 else { return }
        let shown = windows[current].name
        windows.remove(at: index)
        current = self.index(of: shown) ?? max(0, index - 1)
    }

    /// Shows window `index` (0-based); out of range does nothing.
    public mutating func select(_ index: Int) {
        guard index >= 0, index < windows.count else { return }
        current = index
        windows[current].highlighted = false
    }

    /// `/win N` (1-based, as numbered on the activity line) or `/win ROOM` (full name or the
    /// part after the slash). False when nothing matches.
    @discardableResult
    public mutating func select(named target: String) -> Bool {
        if let number = Int(target) {
            guard number >= 1, number <= windows.count else { return false }
            select(number - 1)
            return true
        }
        let lower = target.lowercased()
        if let exact = index(of: lower) {
            select(exact)
            return true
        }
        if let short = windows.firstIndex(where: { $0.name.split(separator: "/").last.map(String.init) == lower }) {
            select(short)
            return true
        }
        return false
    }

    public mutating func selectNext() { select((current + 1) % windows.count) }
    public mutating func selectPrevious() { select((current + windows.count - 1) % windows.count) }

    /// Alt-A: the next window with a highlight, else the next with unread events.
    public mutating func selectActive() {
        let order = (1...windows.count).map { (current + $0) % windows.count }
        if let hit = order.first(where: { windows[$0].highlighted }) ?? order.first(where: { windows[$0].unread > 0 }) {
            select(hit)
        }
    }

    /// PgUp/PgDn: moves the current window's view by `rows` (positive is back in time).
    /// The composer clamps to what there is.
    public mutating func scroll(by rows: Int) {
        windows[current].scrollRows = max(0, windows[current].scrollRows + rows)
    }

    /// The composer's view of the shown window: where it scrolled to (clamped to what there is,
    /// a /find resolved to rows).
    public mutating func settleScroll(_ rows: Int) {
        windows[current].scrollRows = max(0, rows)
        windows[current].scrollToLine = nil
    }

    // MARK: lines

    mutating func add(_ line: ChatLine, to name: String) {
        let index = name == ChatWindow.serverName ? 0 : ensureWindow(name)
        let added = windows[index].add(line)
        if added, line.highlight, index != current || windows[index].scrollRows > 0 {
            windows[index].highlighted = true
        }
    }

    /// A line from the client itself (errors, help, notices) in a window.
    public mutating func say(_ text: String, kind: LineKind = .info, in name: String? = nil, time: Date? = Date()) {
        add(ChatLine(time: time, kind: kind, text: text), to: name ?? currentWindow.name)
    }

    // MARK: read markers

    /// The MARKs to send now: the shown window, when it is scrolled to the bottom, has been read
    /// up to its newest held event. The local marker moves at once (so its unread count drops
    /// now); the server's answer, or another device's READ, only ever moves it forward.
    public mutating func takeMarks() -> [Outgoing] {
        let window = windows[current]
        guard !window.isServer, window.scrollRows == 0, window.heldSeq > window.readSeq else { return [] }
        let seq = window.heldSeq
        windows[current].readSeq = seq
        windows[current].highlighted = false
        guard marksSupported, (marksInFlight[window.name] ?? 0) < seq else { return [] }
        marksInFlight[window.name] = seq
        return [send("MARK \(window.name) \(seq)", .mark(window.name))]
    }

    // MARK: tags

    mutating func send(_ line: String, _ purpose: Purpose, window: String? = nil) -> Outgoing {
        let tag = "t\(nextTag)"
        nextTag += 1
        pending[tag] = PendingCommand(purpose: purpose, window: window ?? currentWindow.name)
        return Outgoing(tag: tag, line: line)
    }

    /// What a sent command's reply will be used for.
    enum Purpose: Sendable, Equatable {
        /// SAY, NEED, OFFER, PROPOSE, BACK, VOTE, REPLY, ...: the EV shows it; only ERR is shown.
        case post
        case join(String)
        case part(String)
        case show(String)
        /// Data lines and the final line are shown in the window (LIST, SEARCH, MATCHES, /quote).
        case listing
        /// `/history`: events go to the room's window in order.
        case history(String)
        /// A window's opening page (HISTORY before=...): no bell for old lines.
        case openingPage(String)
        case mark(String)
        /// ROOMS of a cluster just joined: topics for the title line, names for completion.
        case topics
        case quit
    }

    struct PendingCommand: Sendable {
        var purpose: Purpose
        var window: String
        var data: [IncomingLine] = []
    }
}
