import Foundation

/// Never miss, never repeat is the client library's job (`PartnerlineSession`): after a drop it
/// logs in again and delivers each room's missed events exactly once, in order, then the live
/// ones, and reports a room whose history went back (`RoomReset`). The model only learns where
/// each room stands (a `* JOINED` line after each login, an `OK JOIN`) for the unread counts, and
/// fills a window it opens for the first time with the room's newest page, read backwards.
extension ChatModel {
    /// The largest page the server serves.
    static let pageSize = 500

    mutating func roomIsAt(_ room: String, last: UInt64) -> [Outgoing] {
        guard let index = index(of: room) else { return [] }
        windows[index].lastSeq = max(windows[index].lastSeq, last)
        return openingPage(room, last: last)
    }

    /// The newest page of a room whose window has shown nothing of it yet. Asked once per window
    /// (and again after a reset): later events, missed ones included, come from the session.
    mutating func openingPage(_ room: String, last: UInt64) -> [Outgoing] {
        guard let index = index(of: room), !pagesAsked.contains(room) else { return [] }
        pagesAsked.insert(room)
        // An empty room (or a window that already shows events) has no page to open with.
        guard last > 0, windows[index].heldSeq == 0 else { return [] }
        return [send("HISTORY \(room) before=\(last + 1) limit=\(initialHistory)", .openingPage(room), window: room)]
    }

    /// The session found the room's history on the server shorter than what it delivered (the
    /// data dir was restored from an older backup): the window starts again from the server's
    /// newest event, and says so.
    public mutating func roomReset(_ room: String, keptSeq: UInt64, serverLast: UInt64) -> [Outgoing] {
        guard let index = index(of: room) else { return [] }
        let topic = windows[index].topic
        let readSeq = min(windows[index].readSeq, serverLast)
        windows[index] = ChatWindow(name: room, scrollbackLimit: scrollbackLimit)
        windows[index].topic = topic
        windows[index].readSeq = readSeq
        windows[index].lastSeq = serverLast
        marksInFlight[room] = nil
        say("this room was reset on the server: its newest event is \(serverLast), this window had \(keptSeq)",
            kind: .notice, in: room)
        pagesAsked.remove(room)
        return openingPage(room, last: serverLast)
    }

    /// The connection dropped; `retrySeconds` until the next attempt. Replies to what was in
    /// flight will never come, so they are forgotten.
    public mutating func connectionLost(reason: String, retrySeconds: Int) {
        let wasOnline = status == .online
        status = .away(reason: reason, retrySeconds: retrySeconds)
        pending = [:]
        marksInFlight = [:]
        guard wasOnline else { return }
        for window in windows {
            say("disconnected (\(reason)); reconnecting", kind: .notice, in: window.name)
        }
    }

    /// Logged in (again). The session re-attaches the rooms itself (from the stored membership,
    /// or by JOINing them again on a 1.0 server) and delivers what was missed.
    public mutating func connectionEstablished(reconnect: Bool) {
        status = .online
        guard reconnect else { return }
        for window in windows {
            say("reconnected", kind: .notice, in: window.name)
        }
    }

    /// Whether `text` names `account` as a word (not inside a longer name).
    static func names(_ account: String, in text: String) -> Bool {
        let lower = text.lowercased()
        var searchRange = lower.startIndex..<lower.endIndex
        while let found = lower.range(of: account, range: searchRange) {
            let before = found.lowerBound == lower.startIndex ? nil : lower[lower.index(before: found.lowerBound)]
            let after = found.upperBound == lower.endIndex ? nil : lower[found.upperBound]
            func isNameCharacter(_ c: Character?) -> Bool {
                guard let c else { return false }
                return c.isLetter || c.isNumber || c == "-"
            }
            if !isNameCharacter(before) && !isNameCharacter(after) { return true }
            searchRange = found.upperBound..<lower.endIndex
        }
        return false
    }
}
