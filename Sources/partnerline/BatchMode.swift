import Foundation

/// Non-interactive mode: each line is sent in order and waited for; every line of its reply is
/// printed without the client's tag. Exit status 0 when every command got OK, 1 when any got ERR
/// (or no reply), 2 when connecting, verifying or logging in failed (decided before this runs).
enum BatchMode {
    static let replyTimeout: TimeInterval = 60

    static func run(_ session: Established, lines: [String], output: (String) -> Void = { print($0) },
                    errors: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) -> Int32 {
        var status: Int32 = 0
        var closed = false
        for (index, raw) in lines.enumerated() {
            var line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            // A tag the user wrote is replaced by ours (the reply is printed without it anyway).
            if line.hasPrefix("@"), let space = line.firstIndex(of: " ") {
                line = String(line[line.index(after: space)...])
            }
            guard !closed else {
                errors("not sent (the connection is closed): \(line)")
                status = 1
                continue
            }
            let tag = "b\(index + 1)"
            let prefix = "@\(tag) "
            session.link.send(prefix + line)
            let deadline = Date().addingTimeInterval(replyTimeout)
            waiting: while true {
                guard let event = session.inbox.next(until: deadline) else {
                    errors("no reply within \(Int(replyTimeout)) s to: \(line)")
                    return 1
                }
                switch event {
                case .ready:
                    continue
                case .closed(let reason):
                    closed = true
                    if !line.uppercased().hasPrefix("QUIT") {
                        errors("connection lost before the reply to: \(line) (\(reason))")
                        status = 1
                    }
                    break waiting
                case .line(let text):
                    guard text.hasPrefix(prefix) else {
                        if text.hasPrefix("BYE") {
                            output(text)
                            if !line.uppercased().hasPrefix("QUIT") { status = 1 }
                            closed = true
                            break waiting
                        }
                        continue   // a live event or notice for the session, not this reply
                    }
                    let reply = String(text.dropFirst(prefix.count))
                    output(reply)
                    if reply.hasPrefix("OK") || reply.hasPrefix("BYE") { break waiting }
                    if reply.hasPrefix("ERR") {
                        status = 1
                        break waiting
                    }
                }
            }
        }
        if !closed {
            session.link.send("@bq QUIT")
            let deadline = Date().addingTimeInterval(2)
            while let event = session.inbox.next(until: deadline) {
                if case .closed = event { break }
            }
        }
        return status
    }
}
