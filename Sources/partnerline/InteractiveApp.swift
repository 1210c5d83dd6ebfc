import Foundation
import PartnerlineClient
import PartnerlineTerminal
#if canImport(Glibc)
import Glibc
#endif

/// The full-screen client: one thread, one poll(2) loop over the keyboard, the session's inbox
/// and the signal pipe. Reconnecting and catching up are the client library's
/// (`PartnerlineSession`, through `SessionLink`); this loop shows its state changes. Keys are handled first and drawn at once;
/// server lines are folded in as they come and drawn at most `frameInterval` apart, so a flood
/// of events costs one frame per interval, not one per event, and typing stays responsive.
final class InteractiveApp {
    private let settings: Settings
    private let link: SessionLink
    private let started: SessionLink.Started
    /// Things the user should read first (a server trusted on first use).
    private let notes: [String]
    private var model: ChatModel
    private var editor = LineEditor()
    private var completion = Completion()
    private var decoder = KeyDecoder()
    private let composer: ScreenComposer
    private let diff: ScreenDiff
    private var lastFrame: ScreenBuffer?
    private var dirty = true
    private var lastRender = 0.0
    private var lastMinute = -1
    /// The server's lines arrive in bursts; one frame per 1/30 s is plenty for the eye.
    static let frameInterval = 1.0 / 30
    private var signalRead: Int32 = -1
    private var paneHeight = 20

    init(settings: Settings, link: SessionLink, started: SessionLink.Started, notes: [String]) {
        self.settings = settings
        self.link = link
        self.started = started
        self.notes = notes
        model = ChatModel(account: settings.user, scrollbackLimit: settings.scrollback)
        let colors = (ProcessInfo.processInfo.environment["NO_COLOR"] ?? "").isEmpty
        diff = ScreenDiff(colors: colors)
        composer = ScreenComposer(formatter: LineFormatter(timeZone: .current, account: settings.user))
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func run() -> Int32 {
        let (read, write) = makeWakePipe()
        guard read >= 0 else { return 2 }
        signalRead = read
        Terminal.installLoopSignals(wake: write)
        do {
            try Terminal.enter()
        } catch {
            standardError("partnerline: \(error)")
            return 2
        }
        defer { Terminal.restore() }
        start()
        return loop()
    }

    private func start() {
        for note in notes { model.say(note, kind: .notice, in: ChatWindow.serverName) }
        if case .insecure = settings.trust {
            model.say("the server's certificate is NOT checked (--insecure)", kind: .error, in: ChatWindow.serverName)
        }
        for incoming in started.updates { handle(incoming) }
        for room in settings.rooms where model.index(of: room) == nil {
            transmit(model.submit("/join \(room)"))
        }
        if model.windows.count == 1 {
            model.say("Welcome. /rooms lists the rooms you can join, /join ROOM joins one, /help lists everything.",
                      in: ChatWindow.serverName)
        }
    }

    private func loop() -> Int32 {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            if Terminal.terminated == 1 { return quit(sendQuit: true) }
            let now = Self.now()
            var timeout = 1000.0
            if dirty { timeout = max(0, (lastRender + Self.frameInterval - now) * 1000) }
            if decoder.hasPending { timeout = min(timeout, 30) }
            var polls = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0),
                         pollfd(fd: signalRead, events: Int16(POLLIN), revents: 0),
                         pollfd(fd: link.inbox.readFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&polls, nfds_t(polls.count), Int32(timeout.rounded(.up)))
            if ready < 0 && errno != EINTR { return quit(sendQuit: true) }
            var typed = false

            if polls[1].revents != 0 {
                while read(signalRead, &buffer, buffer.count) > 0 {}
                if Terminal.resized == 1 {
                    Terminal.resized = 0
                    lastFrame = nil
                    dirty = true
                }
            }
            if polls[0].revents & Int16(POLLIN | POLLHUP) != 0 {
                let n = read(0, &buffer, buffer.count)
                if n == 0 { return quit(sendQuit: true) }
                if n > 0 {
                    handle(keys: decoder.feed(Array(buffer[0..<n])))
                    typed = true
                }
            } else if decoder.hasPending && ready == 0 {
                handle(keys: decoder.flushPending())
                typed = true
            }
            let incoming = link.inbox.drain()
            if !incoming.isEmpty {
                for item in incoming { handle(item) }
                dirty = true
            }
            if model.quitRequested { return quit(sendQuit: false) }

            let minute = Int(Date().timeIntervalSince1970 / 60)
            if minute != lastMinute {
                lastMinute = minute
                dirty = true
            }
            if dirty && (typed || Self.now() - lastRender >= Self.frameInterval) {
                render()
            }
        }
    }

    // MARK: keys

    private func handle(keys: [Key]) {
        dirty = true
        var keys = keys
        // Without bracketed paste, a paste is many keys in one read with Enter inside: treat it
        // as one paste, so the guard still holds.
        if keys.count > 2, let enter = keys.firstIndex(of: .enter), enter < keys.count - 1,
           keys.allSatisfy({ if case .character = $0 { return true }; return $0 == .enter }) {
            let text = keys.map { key -> String in
                if case .character(let c) = key { return String(c) }
                return "\n"
            }.joined()
            keys = [.paste(text)]
        }
        for key in keys { handle(key) }
        transmit(model.takeMarks())
    }

    private func handle(_ key: Key) {
        if key != .tab && key != .backTab { completion.reset() }
        if model.heldPaste != nil {
            switch key {
            case .character("y"), .character("Y"): transmit(model.answerPaste(true))
            case .character("n"), .character("N"), .escape, .enter: transmit(model.answerPaste(false))
            case .control("c"): transmit(model.submit("/quit"))
            default: break
            }
            return
        }
        switch key {
        case .character(let c): editor.insert(String(c))
        case .paste(let text):
            if let single = model.paste(text) { editor.insert(single) }
        case .enter:
            let line = editor.submit()
            model.settleScroll(0)
            transmit(model.submit(line))
        case .tab:
            if !completion.step(&editor, sources: model.completionSources) { Terminal.write("\u{7}") }
        case .backTab: completion.step(&editor, sources: model.completionSources, forward: false)
        case .backspace: editor.backspace()
        case .delete: editor.deleteForward()
        case .left: editor.left()
        case .right: editor.right()
        case .home: editor.home()
        case .end: editor.end()
        case .up: editor.historyPrevious()
        case .down: editor.historyNext()
        case .controlLeft, .altLeft: editor.wordLeft()
        case .controlRight, .altRight: editor.wordRight()
        case .pageUp: model.scroll(by: max(1, paneHeight - 1))
        case .pageDown: model.scroll(by: -max(1, paneHeight - 1))
        case .control(let c):
            switch c {
            case "a": editor.home()
            case "e": editor.end()
            case "b": editor.left()
            case "f": editor.right()
            case "w": editor.deleteWordBackward()
            case "u": editor.deleteToStart()
            case "k": editor.deleteToEnd()
            case "n": model.selectNext()
            case "p": model.selectPrevious()
            case "l": lastFrame = nil
            case "c": transmit(model.submit("/quit"))
            case "d":
                if editor.isEmpty { transmit(model.submit("/quit")) } else { editor.deleteForward() }
            default: break
            }
        case .alt(let c):
            if let digit = c.wholeNumberValue {
                model.select(digit == 0 ? 9 : digit - 1)
            } else {
                switch c {
                case "a": model.selectActive()
                case "b": editor.wordLeft()
                case "f": editor.wordRight()
                case "d": editor.deleteWordForward()
                default: break
                }
            }
        default: break
        }
    }

    // MARK: the connection

    private func receive(_ text: String) {
        guard let line = IncomingLine(text) else { return }
        transmit(model.receive(line))
    }

    private func handle(_ incoming: SessionLink.Incoming) {
        switch incoming {
        case .line(let text): receive(text)
        case .update(.event(let event)): receive(ServerMessageText.line(.event(event), tag: nil))
        case .update(.message(let message)): receive(ServerMessageText.line(message, tag: nil))
        case .update(.reset(let reset)):
            transmit(model.roomReset(reset.room, keptSeq: reset.keptSeq, serverLast: reset.serverLast))
        case .update(.state(let state)): show(state)
        case .finished: break
        }
        transmit(model.takeMarks())
        if model.takeBell() { Terminal.write("\u{7}") }
    }

    /// The session's state changes: away (with the next attempt's delay), back, or stopped for
    /// good (a changed certificate or a refused login is not retried).
    private func show(_ state: SessionState) {
        dirty = true
        switch state {
        case .connecting: break
        case .connected(let hello):
            receive(ServerMessageText.line(.hello(hello), tag: nil))
            model.connectionEstablished(reconnect: false)
        case .back:
            model.connectionEstablished(reconnect: true)
        case .away(let reason, let retry):
            let text = reason.message.count > 60 ? String(reason.message.prefix(60)) + "..." : reason.message
            model.connectionLost(reason: text, retrySeconds: max(1, Int(retry.rounded(.up))))
        case .stopped(let error):
            guard let error else { return }
            let reason = TransportLink.failure(error, hostPort: link.hostPort, trust: settings.trust).description
            model.say(reason, kind: .error, in: ChatWindow.serverName)
            model.say("not reconnecting: \(reason.split(separator: "\n").first ?? "")", kind: .error)
            model.connectionLost(reason: "refused", retrySeconds: 0)
        }
    }

    private func transmit(_ lines: [Outgoing]) {
        guard !lines.isEmpty else { return }
        guard model.status == .online else {
            for line in lines where !line.line.hasPrefix("MARK") {
                model.say("not connected; not sent: \(line.line)", kind: .error)
            }
            return
        }
        for line in lines { link.send(line.wire) }
    }

    // MARK: drawing

    private func render() {
        let size = Terminal.size()
        paneHeight = max(1, size.rows - 3)
        let view = ViewState(rows: size.rows, columns: size.columns, editor: editor, colors: diff.colors)
        let (frame, scroll) = composer.compose(model, view)
        model.settleScroll(scroll)
        Terminal.write(diff.update(from: lastFrame, to: frame))
        lastFrame = frame
        lastRender = Self.now()
        dirty = false
        transmit(model.takeMarks())
    }

    private func quit(sendQuit: Bool) -> Int32 {
        if sendQuit && model.status == .online { transmit(model.submit("/quit")) }
        link.stop()
        return 0
    }
}
