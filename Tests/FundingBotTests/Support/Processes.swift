import Foundation
import PartnerlineTestSupport
import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// The real `partnerline-server` binary on a temporary data dir, TLS on a free port.
final class ServerUnderTest {
    private let server: RunningServer
    let logFile: String
    var tlsPort: Int { server.tlsPort }

    init(config: String, logDir: String, tlsPort: Int = 0) throws {
        logFile = logDir + "/server-\(UUID().uuidString).log"
        server = try RunningServer(arguments: ["--config", config, "--tls-port", String(tlsPort)], stderrPath: logFile)
    }

    func stop() {
        guard server.isRunning else { return }
        server.stop()
    }
}

/// A line client that reads a command's reply up to its final line.
final class LineClient {
    let connection: BlockingLineClient

    init(port: Int) throws {
        connection = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true, timeoutSeconds: 20)
        _ = try connection.readLine()
    }

    @discardableResult
    func send(_ line: String) throws -> [String] {
        try connection.send(line: line)
        var lines: [String] = []
        while true {
            let received = try connection.readLine()
            lines.append(received)
            if received.hasPrefix("OK ") || received.hasPrefix("ERR ") || received.hasPrefix("BYE ") { return lines }
        }
    }

    func final(_ line: String) throws -> String { try send(line).last! }

    /// Sends `@tag line` and returns the lines carrying that tag, up to its final OK/ERR (live
    /// lines in between are passed over).
    func tagged(_ tag: String, _ line: String) throws -> [String] {
        try connection.send(line: "@\(tag) \(line)")
        var lines: [String] = []
        while true {
            let received = try connection.readLine()
            guard received.hasPrefix("@\(tag) ") else { continue }
            lines.append(received)
            if received.hasPrefix("@\(tag) OK ") || received.hasPrefix("@\(tag) ERR ") { return lines }
        }
    }
}

/// Polls `condition` until it holds (a generous deadline only guards against a hang; the test
/// asserts the outcome, not how fast it came).
func eventually(seconds: Double = 90, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.2)
    }
    return try condition()
}

/// A TCP port that was free a moment ago (for a server that must come back on the same port).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
