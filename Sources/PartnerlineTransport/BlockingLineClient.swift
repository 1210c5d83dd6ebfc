import COpenSSL
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
    private var ssl: OpaquePointer?
    private var context: OpaquePointer?
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

    private func startTLS(host: String, caFile: String?, certificatePath: String?, privateKeyPath: String?) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TransportError.openSSL("SSL_CTX_new") }
        context = ctx
        _ = pl_SSL_CTX_set_min_proto_version(ctx, pl_TLS1_2_VERSION())
        _ = pl_SSL_CTX_set_mode(ctx, pl_SSL_MODE_AUTO_RETRY())
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                throw TransportError.openSSL("loading CA file \(caFile)")
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        }
        if let certificatePath, let privateKeyPath {
            guard SSL_CTX_use_certificate_chain_file(ctx, certificatePath) == 1,
                  SSL_CTX_use_PrivateKey_file(ctx, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
                throw TransportError.openSSL("loading client certificate \(certificatePath)")
            }
        }
        guard let ssl = SSL_new(ctx) else { throw TransportError.openSSL("SSL_new") }
        self.ssl = ssl
        let isIP = CertificateFactory.isIPAddress(host)
        if !isIP {
            _ = pl_SSL_set_tlsext_host_name(ssl, host)
        }
        if caFile != nil {
            let ok = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) : SSL_set1_host(ssl, host)
            guard ok == 1 else { throw TransportError.openSSL("setting expected peer name \(host)") }
        }
        guard SSL_set_fd(ssl, fd) == 1 else { throw TransportError.openSSL("SSL_set_fd") }
        ERR_clear_error()
        let rc = SSL_connect(ssl)
        if rc != 1 {
            let savedErrno = errno
            var error = TransportError.openSSL("TLS handshake", errnoValue: savedErrno)
            let verify = SSL_get_verify_result(ssl)
            if verify != X509_V_OK, let text = X509_verify_cert_error_string(verify) {
                error = TransportError(error.description + " (certificate: \(String(validatingCString: text) ?? "?"))")
            }
            throw error
        }
    }

    /// SHA-256 (lower-case hex) of the server's certificate: which certificate this connection got.
    public func peerCertificateSHA256Hex() -> String? {
        guard let ssl else { return nil }
        return TLSFingerprint.peerCertificateSHA256Hex(ssl)
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
            if let ssl {
                ERR_clear_error()
                let n = raw.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(clamping: remaining)) }
                if n > 0 {
                    offset += Int(n)
                    continue
                }
                let savedErrno = errno
                throw tlsFailure(SSL_get_error(ssl, n), savedErrno, "SSL_write")
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
            if let ssl {
                ERR_clear_error()
                let n = readChunk.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress!, Int32($0.count)) }
                if n > 0 {
                    inbound.append(contentsOf: readChunk[0..<Int(n)])
                    return
                }
                let savedErrno = errno
                throw tlsFailure(SSL_get_error(ssl, n), savedErrno, "SSL_read")
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

    private func tlsFailure(_ code: Int32, _ savedErrno: Int32, _ what: String) -> TransportError {
        switch code {
        case SSL_ERROR_ZERO_RETURN:
            return TransportError("connection closed by peer (close_notify)", kind: .endOfStream)
        case SSL_ERROR_SYSCALL where savedErrno == 0:
            _ = TransportError.drainOpenSSLErrors()
            return TransportError("connection closed by peer (EOF)", kind: .endOfStream)
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            _ = TransportError.drainOpenSSLErrors()
            return TransportError("\(what): timed out", kind: .timedOut)
        case SSL_ERROR_SYSCALL:
            return TransportError.posix(what, savedErrno)
        default:
            let queue = TransportError.drainOpenSSLErrors()
            if queue.contains(where: { $0.contains("unexpected eof") }) {
                return TransportError("connection closed by peer (EOF without close_notify)", kind: .endOfStream)
            }
            return TransportError("\(what): " + queue.joined(separator: "; "))
        }
    }

    /// close_notify (best effort) then close. Idempotent.
    public func close() {
        if let ssl {
            if fd >= 0 {
                ERR_clear_error()
                _ = SSL_shutdown(ssl)
                ERR_clear_error()
            }
            SSL_free(ssl)
            self.ssl = nil
        }
        if let context {
            SSL_CTX_free(context)
            self.context = nil
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
