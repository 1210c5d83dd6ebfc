import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A simple blocking line client for tests, bots and tools: TCP (+ optional TLS, no
/// certificate verification unless caFile is given, then the peer must match `host` by
/// DNS name or IP address), with SO_RCVTIMEO/SO_SNDTIMEO as a safety net against hangs.
/// Not thread-safe: use one from one thread at a time. Ignores SIGPIPE process-wide.
public final class BlockingLineClient {
    private var fd: Int32
    /// The TLS session (it owns the SSL*; the context lives as long as the SSL* references it).
    private var tls: TLSStream?
    private var inbound: [UInt8] = []
    private var inboundStart = 0
    private var readChunk = [UInt8](repeating: 0, count: 16 * 1024)

    public let isTLS: Bool

    /// receiveBufferBytes: a fixed SO_RCVBUF (set before connect, so the TCP window stays small),
    /// for tests of clients that read slowly. certificatePath/privateKeyPath: a client certificate.
    /// sourceHost: the local address to connect from (e.g. 127.0.3.7, to look like many hosts on loopback).
    public init(host: String, port: Int, tls: Bool, caFile: String? = nil, timeoutSeconds: Double = 10,
                receiveBufferBytes: Int? = nil, certificatePath: String? = nil, privateKeyPath: String? = nil,
                sourceHost: String? = nil) throws {
        TransportSetup.ignoreSIGPIPE()
        isTLS = tls
        fd = try BlockingLineClient.connect(host: host, port: port, timeoutSeconds: timeoutSeconds,
                                            receiveBufferBytes: receiveBufferBytes, sourceHost: sourceHost)
        guard tls else { return }
        do {
            try startTLS(host: host, caFile: caFile, certificatePath: certificatePath, privateKeyPath: privateKeyPath)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
    }

    private static func connect(host: String, port: Int, timeoutSeconds: Double, receiveBufferBytes: Int?,
                                sourceHost: String?) throws -> Int32 {
        let info = try Socket.resolve(host: host, port: port, passive: false)
        defer { freeaddrinfo(info) }
        var lastError = TransportError("connect \(host):\(port): no addresses")
        var cursor: UnsafeMutablePointer<addrinfo>? = info
        while let ai = cursor?.pointee {
            cursor = ai.ai_next
            let fd = socket(ai.ai_family, ai.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.ai_protocol)
            if fd < 0 {
                lastError = TransportError.posix("socket")
                continue
            }
            var timeout = timeval(tv_sec: Int(timeoutSeconds),
                                  tv_usec: Int((timeoutSeconds - Double(Int(timeoutSeconds))) * 1_000_000))
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if let receiveBufferBytes {
                var size = Int32(clamping: receiveBufferBytes)
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            if let sourceHost {
                do {
                    try bind(fd, to: sourceHost, family: ai.ai_family)
                } catch {
                    lastError = error as? TransportError ?? TransportError("bind \(sourceHost)")
                    _ = Glibc.close(fd)
                    continue
                }
            }
            if Glibc.connect(fd, ai.ai_addr, ai.ai_addrlen) == 0 {
                Socket.setNoDelay(fd)
                return fd
            }
            lastError = TransportError.posix("connect \(host):\(port)")
            _ = Glibc.close(fd)
        }
        throw lastError
    }

    /// Binds `fd` to `host` with any port, before connect.
    private static func bind(_ fd: Int32, to host: String, family: Int32) throws {
        let info = try Socket.resolve(host: host, port: 0, passive: false)
        defer { freeaddrinfo(info) }
        var cursor: UnsafeMutablePointer<addrinfo>? = info
        while let ai = cursor?.pointee {
            cursor = ai.ai_next
            if ai.ai_family == family, Glibc.bind(fd, ai.ai_addr, ai.ai_addrlen) == 0 { return }
        }
        throw TransportError.posix("bind \(host)")
    }

    /// The handshake, blocking (bounded by the socket timeouts). The context is the one every
    /// Partnerline client uses, so the name check is the same as the client library's.
    private func startTLS(host: String, caFile: String?, certificatePath: String?, privateKeyPath: String?) throws {
        let context = try TLSClientContext(verifyPeer: caFile != nil, caFile: caFile,
                                           certificateFile: privateKeyPath == nil ? nil : certificatePath,
                                           privateKeyFile: privateKeyPath)
        let stream = try TLSStream(client: context, fd: fd, serverName: host)
        tls = stream
        switch stream.handshake() {
        case .done:
            return
        case .wantRead, .wantWrite:
            // A blocking socket would-blocks only when SO_RCVTIMEO/SO_SNDTIMEO ran out.
            throw TransportError("TLS handshake with \(host): timed out", kind: .timedOut)
        case .closedCleanly, .closedAbruptly:
            throw TransportError("TLS handshake with \(host): the server closed the connection", kind: .endOfStream)
        case .failed(let error):
            throw error
        }
    }

    /// SHA-256 (lower-case hex) of the server's certificate: which certificate this connection got.
    public func peerCertificateSHA256Hex() -> String? {
        tls?.peerCertificateSHA256Hex()
    }

    /// Appends "\r\n".
    public func send(line: String) throws {
        try send(raw: Array(line.utf8) + [13, 10])
    }

    /// Exactly these bytes (partial lines, bad bytes).
    public func send(raw: [UInt8]) throws {
        guard fd >= 0 else { throw TransportError("send on a closed client") }
        var offset = 0
        while offset < raw.count {
            let remaining = raw.count - offset
            if let tls {
                let result = raw.withUnsafeBytes { tls.write(from: $0.baseAddress! + offset, count: remaining) }
                if case .done(let n) = result {
                    offset += n
                    continue
                }
                throw Self.endOrFailure(result)
            } else {
                let n = raw.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, remaining, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    offset += n
                    continue
                }
                if n < 0 && errno == EINTR { continue }
                throw TransportError.posix("send")
            }
        }
    }

    /// One line without CR/LF; throws on EOF (kind .endOfStream) or timeout (kind .timedOut).
    public func readLine() throws -> String {
        while true {
            if let newline = inbound[inboundStart...].firstIndex(of: 10) {
                var end = newline
                if end > inboundStart && inbound[end - 1] == 13 { end -= 1 }
                let line = String(decoding: inbound[inboundStart..<end], as: UTF8.self)
                inboundStart = newline + 1
                if inboundStart == inbound.count {
                    inbound.removeAll(keepingCapacity: true)
                    inboundStart = 0
                } else if inboundStart > 64 * 1024 {
                    inbound.removeSubrange(0..<inboundStart)
                    inboundStart = 0
                }
                return line
            }
            try fill()
        }
    }

    /// Reads until a line starting with `untilPrefix` (included).
    public func readLines(untilPrefix: String) throws -> [String] {
        var lines: [String] = []
        while true {
            let line = try readLine()
            lines.append(line)
            if line.hasPrefix(untilPrefix) { return lines }
        }
    }

    private func fill() throws {
        guard fd >= 0 else { throw TransportError("read on a closed client", kind: .endOfStream) }
        while true {
            if let tls {
                let result = readChunk.withUnsafeMutableBytes { tls.read(into: $0.baseAddress!, capacity: $0.count) }
                if case .done(let n) = result {
                    inbound.append(contentsOf: readChunk[0..<n])
                    return
                }
                throw Self.endOrFailure(result)
            } else {
                let n = readChunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                if n > 0 {
                    inbound.append(contentsOf: readChunk[0..<n])
                    return
                }
                if n == 0 { throw TransportError("connection closed by peer", kind: .endOfStream) }
                if errno == EINTR { continue }
                throw TransportError.posix("recv")
            }
        }
    }

    /// What a TLS read or write that did not complete means to a blocking caller.
    private static func endOrFailure(_ result: TLSResult) -> TransportError {
        switch result {
        case .done:
            return TransportError("TLS: no progress")
        case .closedCleanly:
            return TransportError("connection closed by peer (close_notify)", kind: .endOfStream)
        case .closedAbruptly:
            return TransportError("connection closed by peer (EOF without close_notify)", kind: .endOfStream)
        case .wantRead, .wantWrite:
            // A blocking socket would-blocks only when SO_RCVTIMEO/SO_SNDTIMEO ran out.
            return TransportError("TLS: timed out", kind: .timedOut)
        case .failed(let error):
            return error
        }
    }

    /// close_notify (best effort) then close. Idempotent.
    public func close() {
        if let tls {
            if fd >= 0 { tls.shutdown() }
            self.tls = nil   // frees the SSL* (before the fd closes)
        }
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    /// For tests: drop the TCP connection without a TLS close_notify.
    func closeWithoutNotify() {
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
        close()
    }
}
