import Foundation

extension ChatModel {
    /// Folds one server line into the model; returns what must be sent because of it
    /// (a window's opening page). PING is the connection's business and ignored here.
    public mutating func receive(_ line: IncomingLine) -> [Outgoing] {
        let purpose = line.tag.flatMap { pending[$0]?.purpose }
        switch line.word {
        case "EV":
            event(line, live: purpose.map(Self.isLive) ?? true)
            return []
        case "*":
            return data(line)
        case "OK", "ERR":
            return final(line)
        case "READ":
            if line.arguments.count >= 2, let seq = UInt64(line.arguments[1]), let index = index(of: line.arguments[0]) {
                windows[index].readSeq = max(windows[index].readSeq, seq)
                if windows[index].unread == 0 { windows[index].highlighted = false }
            }
            return []
        case "NOTICE":
            say(line.text ?? "", kind: .notice, in: ChatWindow.serverName)
            if current != 0 { say(line.text ?? "", kind: .notice) }
            bell = bell || (line.text ?? "").lowercased().contains(account)
            return []
        case "BYE":
            let text = "server closed the connection: \(line.arguments.first ?? "") \(line.text ?? "")"
            say(text, kind: .notice, in: ChatWindow.serverName)
            return []
        case "HELLO":
            say("connected to \(line.arguments.dropFirst().first ?? "server") (\(line.arguments.first ?? "")): \(line.text ?? "")",
                in: ChatWindow.serverName)
            return []
        default:
            return []   // a first word from a newer protocol: ignored, as the contract asks
        }
    }

    private static func isLive(_ purpose: Purpose) -> Bool {
        switch purpose {
        case .openingPage, .history: return false
        default: return true
        }
    }

    // MARK: events

    static let kinds: [String: LineKind] = [
        "SAY": .message, "NEED": .need, "OFFER": .offer, "PROPOSAL": .proposal, "FUNDING": .funding,
        "MATCH": .match, "REMINDER": .reminder, "BACK": .back, "VOTE": .vote, "REPLY": .reply, "STATUS": .status,
        "ROOM": .roomChange, "TOPIC": .roomChange, "MUTE": .roomChange, "UNMUTE": .roomChange,
    ]

    /// Options in the order people read them, the rest after in name order.
    static let optionOrder = ["status", "vote", "need", "offer", "need_by", "offer_by", "funder", "amount", "days",
                              "deadline", "until", "tags", "funding", "url", "ref"]

    static func details(_ options: [String: String], leaving: Set<String> = ["id"]) -> String {
        let keys = options.keys.filter { !leaving.contains($0) }
        let ordered = optionOrder.filter(keys.contains) + keys.filter { !optionOrder.contains($0) }.sorted()
        return ordered.map { "\($0)=\(options[$0]!)" }.joined(separator: " ")
    }

    mutating func event(_ line: IncomingLine, live: Bool) {
        let a = line.arguments
        guard a.count >= 5, let seq = UInt64(a[1]) else { return }
        let room = a[0], actor = a[3], kindWord = a[4]
        let time = Timestamps.parse(a[2])
        let text = line.text ?? ""
        let kind = Self.kinds[kindWord] ?? .notice
        if actor != "*server" { knownAccounts.insert(actor) }
        let id = line.options["id"]
        if let id {
            var card = items[id] ?? ItemCard(id: id)
            card.apply(kind: kindWord, actor: actor, time: time, options: line.options, text: text, room: room)
            items[id] = card
        }
        if kindWord == "TOPIC", let index = index(of: room) { windows[index].topic = text }
        var highlight = false
        if actor != account && Self.names(account, in: text) { highlight = true }
        if kindWord == "MATCH" && (line.options["need_by"] == account || line.options["offer_by"] == account) {
            highlight = true
        }
        var details = Self.details(line.options)
        if kind == .notice { details = kindWord + (details.isEmpty ? "" : " " + details) }
        if kind == .roomChange { details = kindWord.lowercased() }
        let chat = ChatLine(seq: seq, time: time, kind: kind, actor: actor, itemID: id, details: details,
                            text: text, highlight: highlight)
        guard index(of: room) != nil else {
            // A watched item from a room without a window: shown in the server window.
            var watched = chat
            watched.seq = nil
            watched.details = room + (details.isEmpty ? "" : " " + details)
            add(watched, to: ChatWindow.serverName)
            if highlight && live { bell = true }
            return
        }
        let before = windows[index(of: room)!].holds(seq: seq)
        add(chat, to: room)
        if highlight && live && !before { bell = true }
    }

    // MARK: data lines

    mutating func data(_ line: IncomingLine) -> [Outgoing] {
        let a = line.arguments
        // `* JOINED` comes in LOGIN's reply (1.1): a window per member room, with the markers.
        if a.first == "JOINED", a.count >= 2 {
            let room = a[1]
            let last = line.options["last"].flatMap { UInt64($0) } ?? 0
            let read = line.options["read"].flatMap { UInt64($0) } ?? 0
            let index = ensureWindow(room)
            windows[index].readSeq = max(windows[index].readSeq, read)
            return roomIsAt(room, last: last)
        }
        if let tag = line.tag, pending[tag] != nil {
            pending[tag]!.data.append(line)
        } else {
            say(Self.plain(line), kind: .data, in: ChatWindow.serverName)
        }
        return []
    }

    /// A data line as text, without the tag: for /quote and lines we have no layout for.
    static func plain(_ line: IncomingLine) -> String {
        var words = [line.word] + line.arguments
        words += line.options.keys.sorted().map { "\($0)=\(line.options[$0]!)" }
        return words.joined(separator: " ") + (line.text.map { " :" + $0 } ?? "")
    }

    /// Folds a reply's data line into items and returns it as a window line.
    mutating func dataLine(_ line: IncomingLine) -> ChatLine {
        let a = line.arguments
        let text = line.text ?? ""
        switch a.first {
        case "ITEM" where a.count >= 3:
            let id = a[1]
            var card = items[id] ?? ItemCard(id: id)
            card.room = a[2]
            card.author = line.options["by"] ?? card.author
            card.title = text
            card.status = line.options["status"] ?? card.status
            for (key, value) in line.options where !["by", "status"].contains(key) { card.facts[key] = value }
            items[id] = card
            knownRooms.insert(a[2])
            return ChatLine(kind: card.kind, actor: card.author, itemID: id,
                            details: a[2] + " " + Self.details(line.options, leaving: ["by"]), text: text)
        case "PARTNER" where a.count >= 3:
            items[a[1], default: ItemCard(id: a[1])].setPartner(a[2], text)
        case "VOTE" where a.count >= 3:
            items[a[1], default: ItemCard(id: a[1])].setVote(a[2], line.options["vote"] ?? "?", text)
        case "REPLY" where a.count >= 3:
            var card = items[a[1], default: ItemCard(id: a[1])]
            let reply = ItemCard.Reply(account: a[2], time: line.options["time"].flatMap(Timestamps.parse), text: text)
            if !card.replies.contains(reply) { card.replies.append(reply) }
            items[a[1]] = card
        case "MATCH":
            let mine = line.options["need_by"] == account || line.options["offer_by"] == account
            return ChatLine(kind: .match, actor: nil, itemID: nil, details: Self.details(line.options), text: text,
                            highlight: mine)
        case "ROOM" where a.count >= 2:
            knownRooms.insert(a[1])
            return ChatLine(kind: .data, details: a[1] + " " + Self.details(line.options), text: text)
        case "MEMBER" where a.count >= 2:
            knownAccounts.insert(a[1])
        default:
            break
        }
        return ChatLine(kind: .data, text: Self.plain(line))
    }

    // MARK: final replies

    mutating func final(_ line: IncomingLine) -> [Outgoing] {
        guard let tag = line.tag, let command = pending.removeValue(forKey: tag) else {
            if line.word == "ERR" { say("error: " + Self.plain(line), kind: .error, in: ChatWindow.serverName) }
            return []
        }
        let ok = line.word == "OK"
        let errorText = "\(line.arguments.first ?? "") \(line.text ?? "")"
        switch command.purpose {
        case .post:
            if !ok { say(errorText, kind: .error, in: command.window) }
        case .quit:
            break
        case .join(let room):
            guard ok else {
                say("cannot join \(room): \(errorText)", kind: .error, in: command.window)
                return []
            }
            let joined = line.options["room"] ?? room
            let index = ensureWindow(joined)
            let last = line.options["last"].flatMap { UInt64($0) } ?? 0
            var out = roomIsAt(joined, last: last)
            select(index)
            if let cluster = joined.split(separator: "/").first {
                out.append(send("ROOMS \(cluster)", .topics, window: joined))
            }
            return out
        case .part(let room):
            if ok {
                closeWindow(room)
                say("left \(room)", in: currentWindow.name)
            } else {
                say("cannot part \(room): \(errorText)", kind: .error, in: command.window)
            }
        case .show(let id):
            guard ok else {
                say("cannot show \(id): \(errorText)", kind: .error, in: command.window)
                return []
            }
            for data in command.data { _ = dataLine(data) }
            let card = items[id] ?? ItemCard(id: id)
            for row in card.lines() { add(row, to: command.window) }
        case .listing:
            for data in command.data { add(dataLine(data), to: command.window) }
            let summary = Self.plain(line)
            add(ChatLine(kind: ok ? .info : .error, text: summary), to: command.window)
        case .history(let room):
            if !ok { say("history: \(errorText)", kind: .error, in: command.window) }
            else { say("history of \(room): \(line.options["count"] ?? "0") events", in: room) }
        case .topics:
            for data in command.data where data.arguments.first == "ROOM" && data.arguments.count >= 2 {
                let room = data.arguments[1]
                knownRooms.insert(room)
                if let index = index(of: room) { windows[index].topic = data.text ?? "" }
            }
        case .openingPage(let room):
            if !ok { say("could not fetch the newest events of \(room): \(errorText)", kind: .error, in: room) }
        case .mark(let room):
            if ok, let read = line.options["read"].flatMap({ UInt64($0) }), let index = index(of: room) {
                windows[index].readSeq = max(windows[index].readSeq, read)
            }
            if !ok && line.arguments.first == "UNKNOWN_COMMAND" { marksSupported = false }
        }
        return []
    }
}

/// RFC 3339 UTC times with milliseconds, as the server writes them.
public enum Timestamps {
    public static func parse(_ text: String) -> Date? {
        // 2026-11-25T10:54:15.795Z
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == 45, u[7] == 45, u[10] == 84, u[13] == 58, u[16] == 58 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                value = value * 10 + Int(u[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var millis = 0
        if u.count >= 24, u[19] == 46, let m = number(20..<23) { millis = m }
        // Days from civil (Howard Hinnant's algorithm): no Calendar, no locale.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second) + Double(millis) / 1000
        return Date(timeIntervalSince1970: seconds)
    }
}
