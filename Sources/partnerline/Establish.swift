import Foundation
import PartnerlineClient

/// A connection that is verified and logged in.
struct Established: Sendable {
    let link: TransportLink
    let inbox: Inbox
    /// The LOGIN reply (its `* JOINED` lines and OK) and anything the server said before it.
    let lines: [String]
    /// Things the user should read (a server trusted on first use).
    let notes: [String]
}

/// Connect, check the server's identity, wait for HELLO, LOGIN. Blocking, bounded by `timeout`.
/// Every failure is a sentence for the user (exit status 2 in batch mode).
enum Establish {
    static let loginTag = "login"

    static func run(endpoint: Endpoint, trust: TrustMode, user: String, password: String,
                    timeoutSeconds: Double = 20) throws -> Established {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        let inbox = Inbox()
        // Trust on first use is the library's; we only tell the user when it happened.
        var knownBefore = true
        if case .knownHosts(let path) = trust {
            let contents = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            knownBefore = KnownHosts(contents: contents).entries.contains { $0.hostPort == endpoint.key }
        }
        let link = try TransportLink.open(host: endpoint.host, port: endpoint.port, trust: trust, inbox: inbox,
                                          timeoutSeconds: Int(timeoutSeconds))
        var notes: [String] = []
        var lines: [String] = []
        var greeted = false
        func fail(_ text: String, final: Bool = false) -> ClientError {
            link.close()
            return ClientError(text, final: final)
        }
        while true {
            guard let event = inbox.next(until: deadline) else {
                throw fail("no answer from \(endpoint.key) within \(Int(timeoutSeconds)) s while \(greeted ? "logging in" : "connecting")")
            }
            switch event {
            case .ready(let fingerprint):
                if case .knownHosts(let path) = trust, !knownBefore, let fingerprint {
                    notes.append("trusting \(endpoint.key) on first use: certificate SHA-256 \(Fingerprint.display(fingerprint)) (recorded in \(path))")
                }
            case .closed(let reason):
                var text = "connection to \(endpoint.key) failed: \(reason)"
                if case .caFile(let path) = trust, reason.contains("TLS") {
                    text += " (the server's certificate could not be verified with \(path))"
                }
                throw ClientError(text)
            case .line(let line):
                if !greeted {
                    guard line.hasPrefix("HELLO") else {
                        // BYE TOO_MANY_CONNECTIONS and the like come instead of HELLO.
                        throw fail("the server at \(endpoint.key) did not greet us: \(line)")
                    }
                    greeted = true
                    lines.append(line)
                    link.send("@\(loginTag) LOGIN \(user) \(password)")
                    continue
                }
                if line.hasPrefix("@\(loginTag) ERR") {
                    let why = line.split(separator: ":", maxSplits: 1).last.map(String.init) ?? line
                    let code = line.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
                    throw fail("login as \(user) refused: \(code) \(why)".trimmingCharacters(in: .whitespaces),
                               final: code == "AUTH_FAILED")
                }
                if line.hasPrefix("BYE") { throw fail("the server closed the connection: \(line)") }
                lines.append(line)
                if line.hasPrefix("@\(loginTag) OK") {
                    return Established(link: link, inbox: inbox, lines: lines, notes: notes)
                }
            }
        }
    }
}
