import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 (port 0) for the feed tests: serves files from disk with
/// the validators a route is given, answers `304 Not Modified` to a matching If-None-Match or
/// If-Modified-Since, and can be made slow, broken (500) or oversized. One thread per connection,
/// `Connection: close`. It records every request so tests can see which were conditional.
final class FeedHTTPServer: @unchecked Sendable {
    enum Behaviour: Sendable {
        case normal
        /// Sends the headers, then a byte every `interval` seconds: a feed that never finishes in time.
        case slow(interval: Double)
        case status(Int)
    }

    struct Route: Sendable {
        var file: String
        var contentType: String
        var etag: String?
        var lastModified: String?
        var behaviour: Behaviour = .normal
    }

    struct Request: Sendable, Equatable {
        var path: String
        var headers: [String: String]
        var answered: Int
    }

    private let lock = NSLock()
    private var routes: [String: Route] = [:]
    private var log: [Request] = []
    private let listenFD: Int32
    let port: Int
    private var stopped = false

    init() throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listenFD >= 0 else { throw HTTPTestError("socket") }
        self.listenFD = listenFD
        var yes: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listenFD, 64) == 0 else { throw HTTPTestError("bind/listen") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    func stop() {
        let wasStopped = lock.withLock { () -> Bool in
            defer { stopped = true }
            return stopped
        }
        guard !wasStopped else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func serve(_ path: String, _ route: Route) { lock.withLock { routes[path] = route } }

    var requests: [Request] { lock.withLock { log } }

    func requests(to path: String) -> [Request] { requests.filter { $0.path == path } }

    private func acceptLoop() {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let thread = Thread { [self] in handle(client) }
            thread.start()
        }
    }

    private func handle(_ fd: Int32) {
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !buffer.containsHeaderEnd {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return }
            buffer += chunk[0..<n]
            if buffer.count > 64 * 1024 { return }
        }
        let head = String(decoding: buffer, as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count >= 2 else { return }
        let path = String(requestLine[1])
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let route = lock.withLock { routes[path] }
        func answer(_ status: Int) {
            lock.withLock { log.append(Request(path: path, headers: headers, answered: status)) }
        }
        guard let route else {
            answer(404)
            send(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        }
        var validators = ""
        if let etag = route.etag { validators += "ETag: \(etag)\r\n" }
        if let modified = route.lastModified { validators += "Last-Modified: \(modified)\r\n" }
        let etagMatches = route.etag != nil && headers["if-none-match"] == route.etag
        let dateMatches = headers["if-none-match"] == nil && route.lastModified != nil && headers["if-modified-since"] == route.lastModified
        switch route.behaviour {
        case .status(let code):
            answer(code)
            send(fd, "HTTP/1.1 \(code) Broken\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        case .slow(let interval):
            answer(200)
            send(fd, "HTTP/1.1 200 OK\r\nContent-Type: \(route.contentType)\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
            for _ in 0..<100_000 {
                if !send(fd, "<") { return }
                Thread.sleep(forTimeInterval: interval)
            }
            return
        case .normal:
            break
        }
        if etagMatches || dateMatches {
            answer(304)
            send(fd, "HTTP/1.1 304 Not Modified\r\n\(validators)Connection: close\r\n\r\n")
            return
        }
        guard let body = FileManager.default.contents(atPath: route.file) else {
            answer(500)
            send(fd, "HTTP/1.1 500 No File\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        }
        answer(200)
        send(fd, "HTTP/1.1 200 OK\r\nContent-Type: \(route.contentType)\r\nContent-Length: \(body.count)\r\n\(validators)Connection: close\r\n\r\n")
        _ = body.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    @discardableResult
    private func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }
}

struct HTTPTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description + ": " + String(cString: strerror(errno)) }
}

private extension Array where Element == UInt8 {
    var containsHeaderEnd: Bool {
        guard count >= 4 else { return false }
        for i in 0...(count - 4) where self[i] == 13 && self[i + 1] == 10 && self[i + 2] == 13 && self[i + 3] == 10 { return true }
        return false
    }
}
