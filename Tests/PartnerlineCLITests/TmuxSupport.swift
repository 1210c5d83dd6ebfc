import Foundation
import PartnerlineTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real client in a real terminal: a tmux server on its own socket (`tmux -L`), one
/// session running `partnerline`, driven with send-keys and read with capture-pane. Every wait
/// polls the pane until the text shows or a generous deadline passes (no fixed sleeps).
final class TmuxSession: @unchecked Sendable {
    let socket: String
    let home: String
    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") }

    /// Starts `partnerline` with `arguments` in a `columns` x `rows` pane. When the client exits,
    /// the pane shows `EXITED=<status>` and stays (so a test can read what was left on screen).
    init(arguments: [String], home: String, columns: Int = 100, rows: Int = 30,
         environment: [String: String] = [:]) throws {
        socket = "partnerline-test-" + UUID().uuidString.prefix(8)
        self.home = home
        var env = ["HOME": home, "XDG_CONFIG_HOME": home + "/config", "LANG": "C.UTF-8", "TZ": "UTC",
                   "PARTNERLINE_PASSWORD": "correct-horse-battery", "PATH": "/usr/bin:/bin"]
        for (key, value) in environment { env[key] = value }
        let assignments = env.keys.sorted().map { "\($0)=\(Self.quote(env[$0]!))" }.joined(separator: " ")
        let command = "env -i \(assignments) TERM=screen \(Self.quote(Binaries.path("partnerline"))) "
            + arguments.map(Self.quote).joined(separator: " ") + "; echo EXITED=$?; sleep 600"
        try tmux(["-u", "new-session", "-d", "-s", "main", "-x", String(columns), "-y", String(rows), command])
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    @discardableResult
    func tmux(_ arguments: [String]) throws -> String {
        // Output through a file, not a pipe: the tmux server that new-session starts keeps the
        // descriptors it was given, and a pipe would never see end-of-file while it runs.
        let file = home + "/tmux-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: file) }
        _ = try spawnAndWait(["/usr/bin/tmux", "-L", socket, "-f", "/dev/null"] + arguments,
                             environment: ["HOME": home, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin", "TERM": "xterm-256color"],
                             outputFile: file)
        return (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }

    /// Types text literally, then the named keys (e.g. "Enter", "M-2", "C-n", "PPage").
    func type(_ text: String, then keys: String...) throws {
        if !text.isEmpty { try tmux(["send-keys", "-t", "main", "-l", text]) }
        if !keys.isEmpty { try tmux(["send-keys", "-t", "main"] + keys) }
    }

    func press(_ keys: String...) throws {
        try tmux(["send-keys", "-t", "main"] + keys)
    }

    /// A paste as a terminal makes it (bracketed, since the client asks for that).
    func paste(_ text: String) throws {
        try tmux(["set-buffer", "-b", "clip", "--", text])
        try tmux(["paste-buffer", "-p", "-b", "clip", "-t", "main"])
    }

    /// The pane's text (with `escapes`, its SGR sequences too).
    func screen(escapes: Bool = false) throws -> String {
        try tmux(["capture-pane", "-p", "-t", "main"] + (escapes ? ["-e"] : []))
    }

    func resize(columns: Int, rows: Int) throws {
        try tmux(["resize-window", "-t", "main", "-x", String(columns), "-y", String(rows)])
    }

    /// Polls until `condition` holds for the pane's text; returns that text.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 30, escapes: Bool = false,
                 _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try screen(escapes: escapes)
            if condition(last) { return last }
            usleep(100_000)
        }
        throw TestFailure("timed out waiting for \(what); the screen was:\n\(last)")
    }

    @discardableResult
    func waitFor(_ text: String, timeout: Double = 30) throws -> String {
        try waitFor("'\(text)'", timeout: timeout) { $0.contains(text) }
    }

    deinit {
        _ = try? tmux(["kill-server"])
    }
}

/// A TCP proxy the test can cut: every connection is closed at once, and while `refusing`,
/// new ones are held unanswered until `resume()` (the client sees the server as gone). Held,
/// not accepted and closed: a held attempt completes as soon as `resume()` is called, while
/// closed ones would be retried with a growing backoff (a close mid-handshake is an
/// interruption the client retries, see HandshakeRetryTests) and slow the test down.
final class CuttableProxy: @unchecked Sendable {
    private let listener: Int32
    let port: Int
    private let upstreamPort: Int
    private let lock = NSLock()
    private var sockets: [Int32] = []
    private var refusing = false
    private var stopped = false

    init(upstreamPort: Int) throws {
        self.upstreamPort = upstreamPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listener = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw TestFailure("proxy: cannot listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Cuts every open connection; with `refuse`, keeps refusing until `resume()`.
    func cut(refuse: Bool) {
        lock.lock()
        refusing = refuse
        let open = sockets
        sockets = []
        lock.unlock()
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func resume() {
        lock.withLock { refusing = false }
    }

    func stop() {
        lock.withLock { stopped = true }
        cut(refuse: true)
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            while lock.withLock({ refusing && !stopped }) { usleep(10_000) }
            if lock.withLock({ stopped }) {
                close(client)
                continue
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(upstreamPort).bigEndian)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                close(client)
                close(upstream)
                continue
            }
            lock.withLock { sockets += [client, upstream] }
            Thread.detachNewThread { Self.pump(from: client, to: upstream) }
            Thread.detachNewThread { Self.pump(from: upstream, to: client) }
        }
    }

    private static func pump(from source: Int32, to target: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(source, &buffer, buffer.count)
            if n <= 0 { break }
            var offset = 0
            while offset < n {
                let w = buffer.withUnsafeBytes { send(target, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { break }
                offset += w
            }
            if offset < n { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(target, Int32(SHUT_RDWR))
    }

    deinit { stop() }
}
