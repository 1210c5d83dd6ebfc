import Foundation

/// What the user types: plain text is SAY in the shown room; `/command ...` does the rest.
extension ChatModel {
    /// The commands, with their usage, for /help and Tab completion.
    public static let commandHelp: [(String, String)] = [
        ("/join", "/join ROOM - join a room and open its window"),
        ("/part", "/part [ROOM] - leave a room (this one by default)"),
        ("/win", "/win N|ROOM - show window N or a room's window (also Alt-1..9, Ctrl-N, Ctrl-P)"),
        ("/need", "/need [tags=a,b] [until=YYYY-MM-DD] TEXT - post a need in this room"),
        ("/offer", "/offer [tags=a,b] [until=YYYY-MM-DD] TEXT - post an offer in this room"),
        ("/propose", "/propose [deadline=YYYY-MM-DD] [funding=F1] [tags=..] TITLE - propose a joint bid"),
        ("/back", "/back P1 CONTRIBUTION - join a proposal, saying what you bring"),
        ("/vote", "/vote P1 agree|abstain|disagree|block [REASON]"),
        ("/reply", "/reply ID TEXT - reply to an item"),
        ("/resolve", "/resolve ID [NOTE] - mark your need or offer resolved"),
        ("/show", "/show ID - an item with its partners, tally, votes and replies"),
        ("/list", "/list needs|offers|proposals|funding [all] - open items of this room"),
        ("/history", "/history [N] - fetch the N events before the oldest shown (default 50)"),
        ("/matches", "/matches - open needs and offers that fit each other, one of them yours"),
        ("/watch", "/watch TAGS - also see items with these tags from all your clusters' rooms"),
        ("/search", "/search WORDS - search items"),
        ("/rooms", "/rooms [CLUSTER] - rooms you can join"),
        ("/who", "/who - members of this room"),
        ("/find", "/find TEXT - search this window's scrollback (again: further back; /find alone: back to the end)"),
        ("/quote", "/quote RAW - send a raw protocol line"),
        ("/help", "/help [COMMAND] - this list"),
        ("/quit", "/quit - leave"),
    ]

    public static var commandNames: [String] { commandHelp.map(\.0) }

    /// What Tab completes from now.
    public var completionSources: CompletionSources {
        CompletionSources(commands: Self.commandNames, rooms: knownRooms.sorted(),
                          accounts: knownAccounts.sorted(), itemIDs: Array(items.keys))
    }

    /// One line the user entered (Enter, or a confirmed paste line).
    public mutating func submit(_ input: String) -> [Outgoing] {
        let text = input.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
        guard text.hasPrefix("/"), !text.hasPrefix("//") else {
            // `//text` sends `/text` as a message.
            let message = text.hasPrefix("//") ? String(text.dropFirst()) : text
            guard let room = roomOrComplain() else { return [] }
            return [send("SAY \(room) :\(message)", .post)]
        }
        let parts = text.dropFirst().split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let verb = parts.first.map { String($0).lowercased() } ?? ""
        let rest = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : ""
        let words = rest.split(separator: " ").map(String.init)
        switch verb {
        case "join", "j":
            guard let room = words.first else { return usage("/join") }
            return [send("JOIN \(room)", .join(room.lowercased()))]
        case "part", "leave":
            guard let room = words.first ?? (currentWindow.isServer ? nil : currentWindow.name) else { return usage("/part") }
            return [send("PART \(room)", .part(room))]
        case "win", "w", "window":
            guard let target = words.first else { return usage("/win") }
            if !select(named: target) { say("no window \(target)", kind: .error) }
            return []
        case "need", "offer", "propose":
            guard !rest.isEmpty else { return usage("/" + verb) }
            guard let room = roomOrComplain() else { return [] }
            return [send("\(verb.uppercased()) \(room) \(rest)", .post)]
        case "back", "vote", "reply", "resolve", "status":
            guard words.count >= (verb == "resolve" ? 1 : 2) else { return usage("/" + verb) }
            let id = words[0].uppercased()
            let after = rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
            return [send("\(verb.uppercased()) \(id)\(after.isEmpty ? "" : " " + after)", .post)]
        case "show":
            guard let id = words.first?.uppercased() else { return usage("/show") }
            return [send("SHOW \(id)", .show(id))]
        case "list":
            var arguments = words
            var room = currentWindow.isServer ? nil : currentWindow.name
            if let first = arguments.first, first.contains("/") {
                room = first
                arguments.removeFirst()
            }
            guard let room else {
                say("/list needs a room: switch to its window or name it", kind: .error)
                return []
            }
            guard let kind = arguments.first else { return usage("/list") }
            return [send((["LIST", room, kind] + arguments.dropFirst()).joined(separator: " "), .listing)]
        case "history":
            guard let room = roomOrComplain() else { return [] }
            let count = words.first.flatMap { Int($0) } ?? 50
            let oldest = currentWindow.lines.first { $0.seq != nil }?.seq ?? (currentWindow.lastSeq + 1)
            return [send("HISTORY \(room) before=\(oldest) limit=\(min(max(count, 1), Self.pageSize))", .history(room))]
        case "matches":
            return [send("MATCHES", .listing)]
        case "watch", "unwatch":
            guard !rest.isEmpty else { return usage("/watch") }
            let tags = rest.hasPrefix("tags=") ? rest : "tags=" + rest.replacingOccurrences(of: " ", with: ",")
            return [send("\(verb.uppercased()) \(tags)", .listing)]
        case "search":
            guard !rest.isEmpty else { return usage("/search") }
            return [send("SEARCH \(rest)", .listing)]
        case "rooms":
            return [send("ROOMS" + (rest.isEmpty ? "" : " " + rest), .listing)]
        case "who":
            guard let room = words.first ?? (currentWindow.isServer ? nil : currentWindow.name) else { return usage("/who") }
            return [send("WHO \(room)", .listing)]
        case "quote", "raw":
            guard !rest.isEmpty else { return usage("/quote") }
            return [send(rest, .listing)]
        case "find":
            find(rest)
            return []
        case "help":
            let wanted = words.first.map { $0.hasPrefix("/") ? $0 : "/" + $0 }
            let rows = Self.commandHelp.filter { wanted == nil || $0.0 == wanted }
            if rows.isEmpty { say("no command \(wanted ?? "")", kind: .error) }
            if wanted == nil {
                say("Type a message and press Enter to say it in this room. Commands:")
            }
            for row in rows { say("  " + row.1) }
            if wanted == nil {
                say("Keys: Alt-1..9 or Ctrl-N/Ctrl-P switch windows, Alt-A the next active one, PgUp/PgDn scroll, "
                    + "Tab completes, Up/Down recall what you typed, Ctrl-W deletes a word, Ctrl-C quits.")
            }
            return []
        case "quit", "exit", "q":
            quitRequested = true
            return [send(rest.isEmpty ? "QUIT" : "QUIT :\(rest)", .quit)]
        default:
            say("unknown command /\(verb) (try /help)", kind: .error)
            return []
        }
    }

    private mutating func roomOrComplain() -> String? {
        if currentWindow.isServer {
            say("this is the server window: /join a room or switch to one (/win N)", kind: .error)
            return nil
        }
        return currentWindow.name
    }

    private mutating func usage(_ command: String) -> [Outgoing] {
        let line = Self.commandHelp.first { $0.0 == command }?.1 ?? command
        say("usage: " + line, kind: .error)
        return []
    }

    // MARK: paste guard

    /// A bracketed paste. One line goes into the input line (returned, for the editor); several
    /// are held until the user says yes or no, so a stray paste never floods a room.
    public mutating func paste(_ text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let nonEmpty = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        if nonEmpty.count <= 1 { return nonEmpty.first ?? "" }
        heldPaste = nonEmpty
        say("paste of \(nonEmpty.count) lines held: send them to \(currentWindow.name)? y = send, n = drop", kind: .notice)
        for (number, line) in nonEmpty.prefix(5).enumerated() { say("  \(number + 1): \(line)", kind: .data) }
        if nonEmpty.count > 5 { say("  ... and \(nonEmpty.count - 5) more", kind: .data) }
        return nil
    }

    /// The answer to a held paste: yes sends every line as typed, no drops them.
    public mutating func answerPaste(_ yes: Bool) -> [Outgoing] {
        guard let lines = heldPaste else { return [] }
        heldPaste = nil
        guard yes else {
            say("paste dropped", kind: .notice)
            return []
        }
        return lines.flatMap { submit($0) }
    }

    // MARK: scrollback search

    /// Scrolls the shown window so the newest line containing `text` above the current view sits
    /// at the bottom; an empty text goes back to the end.
    public mutating func find(_ text: String) {
        guard !text.isEmpty else {
            windows[current].scrollRows = 0
            findCursor = nil
            return
        }
        let lines = currentWindow.lines
        let start = min(findCursor.map { $0 - 1 } ?? lines.count - 1, lines.count - 1)
        let needle = text.lowercased()
        var index = start
        while index >= 0 {
            if lines[index].searchableText.lowercased().contains(needle) {
                findCursor = index
                windows[current].scrollToLine = index
                return
            }
            index -= 1
        }
        findCursor = nil
        say("not found: \(text)", kind: .error)
    }
}
