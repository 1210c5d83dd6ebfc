import Foundation
import PartnerlineClient

/// The interactive client's connection: the client library's `PartnerlineSession`, which logs in,
/// reconnects with backoff and jitter, and delivers every room event exactly once and in order
/// (missed ones filled from HISTORY), with `RoomReset` when a room's history went back. The
/// client keeps no resume logic of its own; this class only carries the session's updates to the
/// client's thread (a `Mailbox` its poll loop watches) and the model's tagged command lines to
/// the session, writing each reply back as tagged text the model reads.
final class SessionLink: @unchecked Sendable {
    enum Incoming: Sendable {
        /// From the session's `updates`, in its order.
        case update(SessionUpdate)
        /// A line of the reply to a command the model sent, with the model's tag.
        case line(String)
        /// The session's updates ended (stopped).
        case finished
    }

    let session: PartnerlineSession
    let inbox = Mailbox<Incoming>()
    let hostPort: String
    private let trust: TrustMode
    private let quitting = Mailbox<Task<Void, Never>>()

    init(endpoint: Endpoint, trust: TrustMode, user: String, password: String, timeoutSeconds: Int = 20) {
        let options = TransportLink.options(host: endpoint.host, port: endpoint.port, trust: trust,
                                            timeoutSeconds: timeoutSeconds)
        hostPort = options.hostPort
        self.trust = trust
        // The first retry comes soon (a blip), later ones back off to half a minute.
        let session = PartnerlineSession(options: options, account: user, password: password,
                                         backoff: Backoff(initialSeconds: 0.5, maximumSeconds: 30))
        self.session = session
        let inbox = self.inbox
        Task {
            await session.start()
            for await update in session.updates { inbox.post(.update(update)) }
            inbox.post(.finished)
        }
    }

    /// What was said before the first login, handed to the app so it replays them.
    struct Started {
        var updates: [Incoming]
    }

    /// Waits (blocking) for the first login. On success, returns the updates read so far: the
    /// `.connected` state and the `* JOINED` lines that follow it at once (collected briefly, so
    /// the app opens the member rooms' windows before it joins the configured rooms). Throws a
    /// sentence for the user when the first connection or login fails; the session is stopped.
    func waitForFirstLogin(timeoutSeconds: Double = 30) throws -> Started {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var seen: [Incoming] = []
        while true {
            guard let next = inbox.next(until: deadline) else {
                stop()
                throw ClientError("no answer from \(hostPort) within \(Int(timeoutSeconds)) s")
            }
            seen.append(next)
            guard case .update(.state(let state)) = next else {
                if case .finished = next { throw ClientError("the connection to \(hostPort) ended") }
                continue
            }
            switch state {
            case .connecting, .back: continue
            case .connected:
                // The JOINED lines are emitted right behind the state, with no I/O between.
                let settle = Date().addingTimeInterval(0.1)
                while let more = inbox.next(until: settle) {
                    seen.append(more)
                    guard case .update(.message(.data(let data))) = more, data.word == "JOINED" else { break }
                }
                return Started(updates: seen)
            case .away(let reason, _):
                // The first attempt failed: say why and stop, as batch mode does (exit status 2).
                stop()
                throw TransportLink.failure(reason, hostPort: hostPort, trust: trust)
            case .stopped(let error):
                stop()
                guard let error else { throw ClientError("stopped") }
                if error.message.hasPrefix("LOGIN refused") {
                    throw ClientError("login refused: \(error.message.dropFirst("LOGIN refused: ".count))", final: true)
                }
                throw TransportLink.failure(error, hostPort: hostPort, trust: trust)
            }
        }
    }

    /// Sends one `@tag COMMAND ...` line; its reply's lines come back tagged in `inbox`. While
    /// the session is away the command is not sent (the model already refuses to send then).
    func send(_ line: String) {
        let (tag, command) = TransportLink.split(line)
        guard let command else { return }
        let session = self.session, inbox = self.inbox
        let task = Task {
            do {
                let reply = try await session.send(command)
                for message in reply.lines + [reply.final] {
                    inbox.post(.line(ServerMessageText.line(message, tag: tag)))
                }
            } catch {
                if let tag, let error = error as? ConnectionError, error.kind == .encoding {
                    inbox.post(.line("@\(tag) ERR BAD_SYNTAX \(command.verb.uppercased()) :\(error.message)"))
                }
                // A lost connection is reported once, by the session's state.
            }
        }
        if command.verb.uppercased() == "QUIT" { quitting.post(task) }
    }

    /// Ends the session (after a QUIT in flight is answered), waiting at most `seconds`.
    func stop(waitingAtMost seconds: Double = 2) {
        let quits = quitting.drain()
        let session = self.session
        let done = Mailbox<Bool>()
        Task {
            for quit in quits { await quit.value }
            await session.stop()
            done.post(true)
        }
        _ = done.next(until: Date().addingTimeInterval(seconds))
    }
}
