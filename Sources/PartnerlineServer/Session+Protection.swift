import Dispatch
import PartnerlineProtocol
import PartnerlineTransport

/// A session's limits: flood control (fake lag, then ERR RATE_LIMITED), its timeouts
/// (handshake, LOGIN, idle PING), and the slow-consumer cut-off. All on the connection's queue.
extension Session {
    /// Grace for a client to take its BYE before the socket is closed regardless.
    static let byeGraceSeconds = 2.0

    /// Puts the session under its queue's sweeper (its timeouts). Called once, before the connection starts.
    func startTimer() {
        let sweeper = service.sweepers.sweeper(for: connection.queue)
        self.sweeper = sweeper
        sweeper.queue.async { [self] in
            // Already closed (e.g. a failed handshake) before it got here: nothing to watch.
            if !closing { sweeper.add(self) }
        }
    }

    /// On the connection's queue.
    func stopTimer() {
        sweeper?.remove(self)
        sweeper = nil
    }

    /// Called by the sweeper on the connection's queue.
    func tick(now: Double) {
        guard sweeper != nil, !closing else { return }
        // The buffer of the last reply, kept for the next one; an idle session gives it back.
        connection.releaseDrainedOutput()
        while true {
            switch clock.next(now: now) {
            case .wait(let until):
                if !until.isFinite { stopTimer() }
                return
            case .ping(let token):
                sendBounded(ServerLine.ping(token: token))
                if closing { return }
            case .drop:
                service.log.info("TLS handshake not finished in time; dropped", metadata: ["peer": "\(connection.peer)"])
                markClosing()
                connection.close(flush: false)
                return
            case .bye(let code, let text):
                return disconnect(code: code, text: text)
            }
        }
    }

    /// A flush-close waits for the client to read; one that never reads is closed anyway.
    func closeForSureAfterGrace() {
        let connection = self.connection
        connection.queue.asyncAfter(deadline: .now() + Self.byeGraceSeconds) { @Sendable in
            connection.close(flush: false)
        }
    }

    // MARK: Flood control

    /// Decides, as a line arrives, whether it may wait for the bucket or is refused: at most
    /// `max_delayed` commands may be held back by fake lag.
    func admit(_ line: FramedLine) -> Waiting {
        let maxDelayed = service.config.protection.flood.maxDelayed
        let short = pendingCommands + 1 - bucket.available(now: MonotonicClock.seconds())
        guard short > maxDelayed else {
            pendingCommands += 1
            return .line(line)
        }
        switch line {
        case .tooLong:
            return .refused(tag: nil, verb: "*")
        case .line(let bytes):
            switch service.parser.parse(bytes) {
            case .success(let command): return .refused(tag: command.tag, verb: command.verb)
            case .failure(let failure): return .refused(tag: failure.tag, verb: failure.verb)
            }
        }
    }

    /// Takes a token for the next command, or schedules the command loop for when one is due.
    func takeToken() -> Bool {
        let now = MonotonicClock.seconds()
        if bucket.take(now: now) { return true }
        if !lagWakeScheduled {
            lagWakeScheduled = true
            let delay = max(0.001, bucket.nextTokenAt(now: now) - now)
            connection.queue.asyncAfter(deadline: .now() + delay) { @Sendable [weak self] in
                guard let self else { return }
                self.lagWakeScheduled = false
                self.runWaiting()
            }
        }
        return false
    }

    func refuseFlooded(tag: String?, verb: String) {
        let flood = service.config.protection.flood
        send(ServerLine.err(tag: tag, code: .rateLimited, verb: verb,
                            message: "too many commands at once: at most \(flood.maxDelayed) may wait for their turn; this one was dropped, send it again later"))
    }

    func useBotRate() {
        let flood = service.config.protection.flood
        bucket.reconfigure(burst: flood.botBurst, ratePerSecond: flood.botRatePerSecond, now: MonotonicClock.seconds())
    }

    // MARK: Slow consumers

    /// Queues output unless the client has left too much unread: then it is a slow consumer and
    /// is told so (best effort, the BYE fits in the room kept for it) and disconnected. Other
    /// clients never wait for it: fan-out only appends to buffers.
    func sendBounded(_ bytes: [UInt8]) {
        if isSlowConsumer(adding: bytes.count) {
            connection.writePendingNow()   // what the kernel takes at once is not unread
            if isSlowConsumer(adding: bytes.count) { return cutOffSlowConsumer() }
        }
        connection.send(bytes)
    }

    /// Whether `count` more bytes would pass the bound, less 1 KiB kept for the BYE.
    func isSlowConsumer(adding count: Int) -> Bool {
        connection.pendingOutboundBytes + count > connection.maxOutboundBytes - 1024
    }

    func cutOffSlowConsumer() {
        service.log.warning("slow consumer disconnected", metadata: [
            "peer": "\(connection.peer)", "account": "\(accountName)", "unread": "\(connection.pendingOutboundBytes)",
        ])
        disconnect(code: "SLOW_CONSUMER", text: "more than \(connection.maxOutboundBytes - 1024) bytes unread; reconnect and read faster")
    }
}
