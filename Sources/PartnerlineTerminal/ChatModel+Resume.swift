import Foundation

/// Never miss, never repeat: what the model asks for when a room's newest seq becomes known
/// (a `* JOINED` line at LOGIN, an `OK JOIN`, a JOIN again after a reconnect). The window pages
/// forward with `HISTORY after=<cursor>` from the last event of its unbroken run until it reaches
/// the newest seq; the window itself drops any event it already holds, so a page that overlaps a
/// live line shows nothing twice.
extension ChatModel {
    /// The largest page the server serves.
    static let pageSize = 500

    mutating func roomIsAt(_ room: String, last: UInt64) -> [Outgoing] {
        guard var index = index(of: room) else { return [] }
        if last < windows[index].heldSeq {
            // The server's room is behind what we showed: its data was reset or restored.
            let had = windows[index].heldSeq
            let topic = windows[index].topic
            windows[index] = ChatWindow(name: room, scrollbackLimit: scrollbackLimit)
            windows[index].topic = topic
            say("this room was reset on the server: its newest event is \(last), this window had \(had)",
                kind: .notice, in: room)
            index = self.index(of: room)!
            catchUp[room] = nil
        }
        windows[index].lastSeq = max(windows[index].lastSeq, last)
        if var state = catchUp[room] {
            state.target = max(state.target, last)
            catchUp[room] = state
            return []   // a page is on its way; its end asks for the next
        }
        let held = windows[index].heldSeq
        guard held < last else { return [] }
        if held == 0 {
            // First look at this room: the newest page, read backwards from the newest seq.
            catchUp[room] = CatchUpState(cursor: last, target: last)
            return [send("HISTORY \(room) before=\(last + 1) limit=\(initialHistory)", .catchUp(room), window: room)]
        }
        catchUp[room] = CatchUpState(cursor: held, target: last)
        return [send("HISTORY \(room) after=\(held) limit=\(Self.pageSize)", .catchUp(room), window: room)]
    }

    mutating func catchUpPageDone(_ room: String, ok: Bool, count: Int, more: String?) -> [Outgoing] {
        guard let state = catchUp[room] else { return [] }
        guard ok else {
            catchUp[room] = nil
            say("could not fetch the missed events of \(room)", kind: .error, in: room)
            return []
        }
        // A 1.1 server says whether there is more; a 1.0 server does not, so the cursor decides.
        let done = count == 0 || state.cursor >= state.target || (more == "no" && count < Self.pageSize)
        if done || index(of: room) == nil {
            catchUp[room] = nil
            return []
        }
        return [send("HISTORY \(room) after=\(state.cursor) limit=\(Self.pageSize)", .catchUp(room), window: room)]
    }

    /// The connection dropped; `retrySeconds` until the next attempt. Replies to what was in
    /// flight will never come, so they are forgotten (catch-up starts again on reconnect).
    public mutating func connectionLost(reason: String, retrySeconds: Int) {
        let wasOnline = status == .online
        status = .away(reason: reason, retrySeconds: retrySeconds)
        pending = [:]
        catchUp = [:]
        marksInFlight = [:]
        guard wasOnline else { return }
        for window in windows {
            say("disconnected (\(reason)); reconnecting", kind: .notice, in: window.name)
        }
    }

    /// Logged in (again). On a reconnect every room window joins again: a member's JOIN is
    /// answered with the room's newest seq, from which the catch-up pages start. (A 1.1 server
    /// also sends `* JOINED` lines in the LOGIN reply, which start the same catch-up.)
    public mutating func connectionEstablished(reconnect: Bool) -> [Outgoing] {
        status = .online
        guard reconnect else { return [] }
        var out: [Outgoing] = []
        for window in windows {
            say("reconnected", kind: .notice, in: window.name)
            if !window.isServer { out.append(send("JOIN \(window.name)", .rejoin(window.name), window: window.name)) }
        }
        return out
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
