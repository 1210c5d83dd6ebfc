import Dispatch
import Foundation
import Testing
@testable import PartnerlineTransport
#if canImport(Glibc)
import Glibc
#endif

/// `TLSStream.classify` over real TLS on loopback sockets (port 0): every kind of result it can
/// give, produced by a real peer doing the real thing (close_notify, a dropped socket, a
/// certificate for another name, bytes that are not TLS, a full socket buffer).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct TLSStreamTests {
    /// A connected TCP pair on 127.0.0.1 (client fd, server fd), both owned by the pair.
    final class SocketPair {
        let client: Int32
        let server: Int32
        private var closed: Set<Int32> = []

        /// bufferBytes: SO_SNDBUF/SO_RCVBUF on both ends, set before connect (a small TCP window).
        init(nonBlocking: Bool, bufferBytes: Int? = nil) throws {
            TransportSetup.ignoreSIGPIPE()   // as every Partnerline process does at start (trap 1)
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard listener >= 0 else { throw TransportError.posix("socket") }
            defer { Glibc.close(listener) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = 0
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    Glibc.bind(listener, pointer, length) == 0 && listen(listener, 1) == 0
                        && getsockname(listener, pointer, &length) == 0
                }
            }
            guard bound else { throw TransportError.posix("bind/listen") }
            let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard client >= 0 else { throw TransportError.posix("socket") }
            if let bufferBytes {
                var size = Int32(bufferBytes)
                setsockopt(client, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
                setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(client, $0, length) }
            }
            guard connected == 0 else {
                Glibc.close(client)
                throw TransportError.posix("connect")
            }
            let server = accept(listener, nil, nil)
            guard server >= 0 else {
                Glibc.close(client)
                throw TransportError.posix("accept")
            }
            self.client = client
            self.server = server
            for fd in [client, server] {
                if nonBlocking {
                    Socket.setNonBlockingCloseOnExec(fd)
                } else {
                    var timeout = timeval(tv_sec: Int(hangGuardSeconds), tv_usec: 0)
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                }
            }
        }

        /// Closes one end now (no close_notify: the TCP FIN only).
        func close(_ fd: Int32) {
            guard !closed.contains(fd) else { return }
            closed.insert(fd)
            Glibc.close(fd)
        }

        deinit {
            close(client)
            close(server)
        }
    }

    /// Waits (hang-guarded) until `fd` is readable or writable, as `result` asks.
    static func wait(_ fd: Int32, for result: TLSResult) {
        waitEither((fd, result))
    }

    /// Waits (hang-guarded) until any of the fds can do what its result asks.
    static func waitEither(_ waits: (Int32, TLSResult)...) {
        var pollers = waits.map { fd, result in
            var events = Int16(POLLIN)
            if case .wantWrite = result { events = Int16(POLLOUT) }
            return pollfd(fd: fd, events: events, revents: 0)
        }
        _ = poll(&pollers, nfds_t(pollers.count), Int32(hangGuardSeconds * 1000))
    }

    /// Drives both handshakes on one thread over non-blocking sockets until neither wants more;
    /// returns each side's last result. Counts the would-blocks seen (at least one is certain:
    /// the client waits for the ServerHello).
    static func handshake(_ client: TLSStream, _ server: TLSStream, _ pair: SocketPair) -> (client: TLSResult, server: TLSResult, wouldBlocks: Int) {
        var clientResult = client.handshake()
        var serverResult = server.handshake()
        var wouldBlocks = 0
        for _ in 0..<1000 {
            let clientWaits = clientResult.isWouldBlock
            let serverWaits = serverResult.isWouldBlock
            if !clientWaits && !serverWaits { break }
            wouldBlocks += (clientWaits ? 1 : 0) + (serverWaits ? 1 : 0)
            if clientWaits { clientResult = client.handshake() }
            if serverWaits { serverResult = server.handshake() }
            if clientResult.isWouldBlock && serverResult.isWouldBlock {
                // Neither can move yet: wait until one of them can.
                waitEither((pair.client, clientResult), (pair.server, serverResult))
            }
        }
        return (clientResult, serverResult, wouldBlocks)
    }

    /// Reads into `buffer` until something other than a would-block (hang-guarded by poll and
    /// a bound on the tries).
    static func readUntilResult(_ stream: TLSStream, _ fd: Int32, _ buffer: inout [UInt8]) -> TLSResult {
        var result = TLSResult.wantRead
        for _ in 0..<100 {
            result = buffer.withUnsafeMutableBytes { stream.read(into: $0.baseAddress!, capacity: $0.count) }
            guard result.isWouldBlock else { return result }
            wait(fd, for: result)
        }
        return result
    }

    /// A connected, handshaken pair of streams over non-blocking sockets.
    static func connected(_ certs: CertFixture, bufferBytes: Int? = nil) throws -> (SocketPair, TLSStream, TLSStream) {
        let pair = try SocketPair(nonBlocking: true, bufferBytes: bufferBytes)
        let client = try TLSStream(client: try TLSClientContext(verifyPeer: true, caFile: certs.certificatePath),
                                   fd: pair.client, serverName: "localhost")
        let server = try TLSStream(server: try certs.context(), fd: pair.server)
        let results = handshake(client, server, pair)
        guard case .done = results.client, case .done = results.server else {
            throw TransportError("handshake: client \(results.client), server \(results.server)")
        }
        return (pair, client, server)
    }

    // MARK: closes

    @Test func closeNotifyIsAClosedCleanly() throws {
        let certs = try CertFixture()
        let (pair, client, server) = try Self.connected(certs)
        var buffer = [UInt8](repeating: 0, count: 4096)
        // Nothing sent yet: a non-blocking read would block.
        let empty = buffer.withUnsafeMutableBytes { server.read(into: $0.baseAddress!, capacity: $0.count) }
        #expect(empty.isWantRead, "\(empty)")

        let hello = Array("hello\n".utf8)
        let wrote = hello.withUnsafeBytes { client.write(from: $0.baseAddress!, count: $0.count) }
        #expect(wrote.doneCount == hello.count, "\(wrote)")
        let read = Self.readUntilResult(server, pair.server, &buffer)
        #expect(read.doneCount == hello.count, "\(read)")
        #expect(Array(buffer.prefix(hello.count)) == hello)

        #expect(!client.sentCloseNotify)
        client.shutdown()   // close_notify, the socket stays open
        #expect(client.sentCloseNotify)
        let end = Self.readUntilResult(server, pair.server, &buffer)
        #expect(end.isClosedCleanly, "\(end)")
    }

    @Test func aSocketClosedWithoutCloseNotifyIsAClosedAbruptly() throws {
        let certs = try CertFixture()
        let (pair, client, server) = try Self.connected(certs)
        // The client takes what the server sent after its handshake (TLS 1.3 session tickets):
        // closing a socket with unread bytes sends a reset, not the FIN this test is about.
        var buffer = [UInt8](repeating: 0, count: 4096)
        let tickets = buffer.withUnsafeMutableBytes { client.read(into: $0.baseAddress!, capacity: $0.count) }
        #expect(tickets.isWantRead, "\(tickets)")
        pair.close(pair.client)   // FIN without close_notify
        let end = Self.readUntilResult(server, pair.server, &buffer)
        // With SSL_OP_IGNORE_UNEXPECTED_EOF this would read as a clean close: the two must differ.
        #expect(end.isClosedAbruptly, "\(end)")
        // No close_notify to a vanished peer: OpenSSL forbids SSL_shutdown after a fatal result.
        server.shutdown()
        #expect(!server.sentCloseNotify)
    }

    /// The blocking client reads the same two ends through the same classifier: close_notify
    /// and a dropped socket are both an end of stream, and each says which it was.
    @Test func theBlockingClientTellsACleanEndFromADroppedSocket() throws {
        TransportSetup.ignoreSIGPIPE()
        let certs = try CertFixture()
        let context = try certs.context()
        for clean in [true, false] {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { Glibc.close(listener) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    Glibc.bind(listener, pointer, length) == 0 && listen(listener, 1) == 0
                        && getsockname(listener, pointer, &length) == 0
                }
            }
            #expect(bound)
            let port = Int(UInt16(bigEndian: address.sin_port))
            // The server side: one blocking TLSStream on its own thread, one line, then the end.
            let serverDone = DispatchSemaphore(value: 0)
            let serverFailure = Locked<String?>(nil)
            let box = UncheckedBox(context)
            DispatchQueue.global().async {
                defer { serverDone.signal() }
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return serverFailure.withLock { $0 = "accept" } }
                defer { Glibc.close(fd) }
                var timeout = timeval(tv_sec: Int(hangGuardSeconds), tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                do {
                    let stream = try TLSStream(server: box.value, fd: fd)
                    guard case .done = stream.handshake() else { return serverFailure.withLock { $0 = "handshake" } }
                    let line = Array("last words\r\n".utf8)
                    let wrote = line.withUnsafeBytes { stream.write(from: $0.baseAddress!, count: $0.count) }
                    guard case .done = wrote else { return serverFailure.withLock { $0 = "write \(wrote)" } }
                    if clean { stream.shutdown() }
                } catch {
                    serverFailure.withLock { $0 = "\(error)" }
                }
            }
            let client = try BlockingLineClient(host: "127.0.0.1", port: port, tls: true, caFile: certs.certificatePath)
            #expect(try client.readLine() == "last words")
            do {
                let line = try client.readLine()
                Issue.record("read after the end: \(line)")
            } catch let error as TransportError {
                #expect(error.kind == .endOfStream, "\(error)")
                #expect(error.description.contains(clean ? "(close_notify)" : "(EOF without close_notify)"), "\(error)")
            }
            #expect(serverDone.wait(timeout: .now() + hangGuardSeconds) == .success)
            #expect(serverFailure.withLock { $0 } == nil)
        }
    }

    // MARK: the client checks the name

    @Test func aCertificateForAnotherNameIsRefusedByTheClient() throws {
        let certs = try CertFixture()   // localhost, 127.0.0.1, ::1
        for (name, reason) in [("wrong.example", "hostname mismatch"), ("10.9.8.7", "IP address mismatch"),
                               ("localhost", nil), ("127.0.0.1", nil)] {
            let pair = try SocketPair(nonBlocking: true)
            let client = try TLSStream(client: try TLSClientContext(verifyPeer: true, caFile: certs.certificatePath),
                                       fd: pair.client, serverName: name)
            let server = try TLSStream(server: try certs.context(), fd: pair.server)
            let results = Self.handshake(client, server, pair)
            if let reason {
                guard case .failed(let error) = results.client else {
                    Issue.record("\(name): the client accepted a certificate for localhost: \(results.client)")
                    continue
                }
                #expect(error.description.hasPrefix("TLS handshake"), "\(error)")
                #expect(error.description.contains("certificate verify failed"), "\(error)")
                #expect(error.description.contains("(certificate: \(reason))"), "\(error)")
                #expect(client.verifyFailure == reason)
            } else {
                #expect(results.client.doneCount == 0, "\(name): \(results.client)")
                #expect(client.verifyFailure == nil)
            }
        }
    }

    @Test func aVerifyingClientNeedsAName() throws {
        let certs = try CertFixture()
        let pair = try SocketPair(nonBlocking: true)
        let verifying = try TLSClientContext(verifyPeer: true, caFile: certs.certificatePath)
        #expect(throws: TransportError.self) { _ = try TLSStream(client: verifying, fd: pair.client, serverName: nil) }
        // Without verification no name is needed (a pinned fingerprint is checked afterwards).
        _ = try TLSStream(client: try TLSClientContext(verifyPeer: false), fd: pair.client, serverName: nil)
    }

    @Test func theBlockingClientChecksTheNameTheSameWay() throws {
        let certs = try CertFixture(names: ["other.example"])
        let server = try EchoServer(tls: try certs.context())
        for host in ["127.0.0.1", "localhost"] {
            do {
                _ = try BlockingLineClient(host: host, port: server.port, tls: true, caFile: certs.certificatePath)
                Issue.record("\(host): a certificate for other.example was accepted")
            } catch {
                #expect("\(error)".contains("mismatch"), "\(error)")
            }
        }
    }

    // MARK: not TLS

    @Test func garbageInsteadOfAClientHelloFailsWithAReadableReason() throws {
        let certs = try CertFixture()
        // An HTTP request; a whole handshake record (type 22, TLS 1.0, 5 bytes) that holds no
        // ClientHello.
        let http = Array("GET / HTTP/1.1\r\nHost: partnerline\r\n\r\n".utf8)
        let notAHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05] + Array("hello".utf8)
        for (bytes, reason) in [(http, "http request"), (notAHello, nil)] {
            let pair = try SocketPair(nonBlocking: true)
            let server = try TLSStream(server: try certs.context(), fd: pair.server)
            #expect(send(pair.client, bytes, bytes.count, 0) == bytes.count)
            var result = server.handshake()
            for _ in 0..<100 where result.isWouldBlock {
                Self.wait(pair.server, for: result)
                result = server.handshake()
            }
            guard case .failed(let error) = result else {
                Issue.record("garbage was not a failure: \(result)")
                continue
            }
            #expect(error.description.hasPrefix("TLS handshake: error:"), "\(error)")
            #expect(error.description.contains("SSL routines"), "\(error)")
            if let reason { #expect(error.description.contains(reason), "\(error)") }
        }
    }

    // MARK: would-block

    @Test func aFullSocketIsAWantWriteAndTheSameBytesGoOutWhenRetried() throws {
        let certs = try CertFixture()
        let (pair, client, server) = try Self.connected(certs, bufferBytes: 16 * 1024)
        // A pattern, so a retried write that sent different bytes would show.
        let total = 4 << 20
        let payload = (0..<total).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
        var sent = 0
        var wantWrites = 0
        var received: [UInt8] = []
        received.reserveCapacity(total)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while received.count < total {
            if sent < total {
                let result = payload.withUnsafeBytes { client.write(from: $0.baseAddress! + sent, count: total - sent) }
                switch result {
                case .done(let n):
                    sent += n
                case .wantWrite:
                    wantWrites += 1   // the peer is not reading: its window and our buffer are full
                default:
                    Issue.record("write: \(result)")
                    return
                }
                // Read only after the socket filled, so a want-write must come first.
                if wantWrites == 0 { continue }
            }
            let result = buffer.withUnsafeMutableBytes { server.read(into: $0.baseAddress!, capacity: $0.count) }
            switch result {
            case .done(let n):
                received += buffer[0..<n]
            case .wantRead:
                if sent < total {
                    // The rest waits in the client: go back and retry its write when it can.
                    Self.waitEither((pair.client, .wantWrite), (pair.server, .wantRead))
                } else {
                    Self.wait(pair.server, for: result)
                }
            default:
                Issue.record("read: \(result)")
                return
            }
        }
        #expect(wantWrites > 0)
        #expect(received == payload)
    }
}

extension TLSResult {
    var isWouldBlock: Bool {
        switch self {
        case .wantRead, .wantWrite: true
        default: false
        }
    }

    var isWantRead: Bool { if case .wantRead = self { true } else { false } }
    var isClosedCleanly: Bool { if case .closedCleanly = self { true } else { false } }
    var isClosedAbruptly: Bool { if case .closedAbruptly = self { true } else { false } }
    var doneCount: Int? { if case .done(let n) = self { n } else { nil } }
}
