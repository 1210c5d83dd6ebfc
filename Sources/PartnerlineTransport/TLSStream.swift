import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// What one TLS call came to. Every OpenSSL I/O result in the package becomes one of these in
/// `TLSStream.classify`, the only place that reads `SSL_get_error`.
public enum TLSResult: Sendable {
    /// The call completed: bytes read or written (0 for a finished handshake or shutdown).
    case done(Int)
    /// Call again, with the same arguments, once the socket is readable.
    case wantRead
    /// Call again, with the same arguments, once the socket is writable.
    case wantWrite
    /// The peer sent close_notify: an orderly end, nothing more will be read.
    case closedCleanly
    /// The socket reached EOF without close_notify (OpenSSL 3: `SSL_R_UNEXPECTED_EOF_WHILE_READING`).
    /// A line protocol frames its own messages, so callers treat it as an end of stream (trap 4).
    case closedAbruptly
    /// Anything else: the drained OpenSSL error queue and errno, readable, with the verify
    /// result's text when a certificate was refused. The session is unusable after this.
    case failed(TransportError)
}

/// One TLS session on one socket: owns its `SSL*` from creation (from a server or client context,
/// on a connected fd) to `deinit`, which frees it exactly once. The fd stays the caller's.
///
/// Every call clears this thread's OpenSSL error queue first and classifies its result in one
/// function (`classify`), so the server's connections, the client library and the blocking
/// client agree on what a close, a would-block and a failure are.
///
/// Not thread-safe: OpenSSL forbids concurrent use of one `SSL*`; callers confine a stream to
/// one queue or thread. The hot calls (`read`, `write`) allocate nothing on success or would-block.
public final class TLSStream {
    /// Which call a result came from: for the error text, and for a would-block that OpenSSL
    /// reports only through errno.
    enum Operation {
        case handshake, read, write, shutdown

        var name: StaticString {
            switch self {
            case .handshake: "TLS handshake"
            case .read: "TLS read"
            case .write: "TLS write"
            case .shutdown: "TLS shutdown"
            }
        }
    }

    private let ssl: OpaquePointer
    /// SSL_get_error said SSL_ERROR_SSL or SSL_ERROR_SYSCALL: the session is dead, and OpenSSL
    /// says SSL_shutdown must not be called (it would write an alert to a vanished peer).
    private var fatal = false

    private init(ssl: OpaquePointer) {
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl)
    }

    /// The server side of an accepted socket (the handshake waits for the peer's ClientHello).
    /// The SSL* takes its own reference on the context, so a context replaced later (SIGHUP)
    /// stays alive for the sessions that began with it.
    public convenience init(server context: TLSServerContext, fd: Int32) throws {
        let ssl = try Self.newSSL(context.context, fd: fd)
        SSL_set_accept_state(ssl)
        self.init(ssl: ssl)
    }

    /// The client side of a connected socket. `serverName` goes out as SNI (DNS names only, never
    /// an IP literal) and, when the context verifies peers, is the name the certificate must carry:
    /// `SSL_set1_host` for a DNS name, `X509_VERIFY_PARAM_set1_ip_asc` for an IP address, so a
    /// certificate for another name fails the handshake ("hostname mismatch"). This is the one
    /// place any Partnerline client sets the expected name.
    public convenience init(client context: TLSClientContext, fd: Int32, serverName: String?) throws {
        let ssl = try Self.newSSL(context.context, fd: fd)
        func fail(_ error: TransportError) -> TransportError {
            SSL_free(ssl)
            return error
        }
        if let serverName, !serverName.isEmpty {
            let isIP = CertificateFactory.isIPAddress(serverName)
            if !isIP {
                _ = pl_SSL_set_tlsext_host_name(ssl, serverName)
            }
            if context.verifiesPeer {
                let set = isIP ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
                    : SSL_set1_host(ssl, serverName)
                guard set == 1 else { throw fail(.openSSL("setting the expected server name \(serverName)")) }
            }
        } else if context.verifiesPeer {
            throw fail(TransportError("a verified TLS connection needs the server's name"))
        }
        SSL_set_connect_state(ssl)
        self.init(ssl: ssl)
    }

    private static func newSSL(_ context: OpaquePointer, fd: Int32) throws -> OpaquePointer {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { throw TransportError.openSSL("SSL_new") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            let error = TransportError.openSSL("SSL_set_fd")
            SSL_free(ssl)
            throw error
        }
        return ssl
    }

    // MARK: I/O

    /// One handshake step: `.done(0)` when the handshake is complete.
    public func handshake() -> TLSResult {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        let savedErrno = errno
        if result == 1 { return .done(0) }
        return classify(result, savedErrno, .handshake)
    }

    /// Up to `capacity` decrypted bytes into `buffer`: `.done(n)` with n > 0, or why not.
    @inline(__always)
    public func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> TLSResult {
        ERR_clear_error()
        var count = 0
        let result = SSL_read_ex(ssl, buffer, capacity, &count)
        let savedErrno = errno
        if result == 1 { return .done(count) }
        return classify(result, savedErrno, .read)
    }

    /// Encrypts and sends up to `count` bytes: `.done(n)`, n > 0, possibly fewer than `count`
    /// with partial writes enabled (the shared contexts enable them). After `.wantWrite` or
    /// `.wantRead` call again with the same bytes (trap 3); the buffer may have moved
    /// (`SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER`).
    @inline(__always)
    public func write(from bytes: UnsafeRawPointer, count: Int) -> TLSResult {
        ERR_clear_error()
        var written = 0
        let result = SSL_write_ex(ssl, bytes, count, &written)
        let savedErrno = errno
        if result == 1 { return .done(written) }
        return classify(result, savedErrno, .write)
    }

    /// Sends close_notify, best effort, not waiting for the peer's. Does nothing after a fatal
    /// result (`.failed`, `.closedAbruptly`: OpenSSL forbids SSL_shutdown then) or before the
    /// handshake finished (no session to close).
    public func shutdown() {
        ERR_clear_error()
        if !fatal && SSL_in_init(ssl) == 0 {
            _ = SSL_shutdown(ssl)
        }
        ERR_clear_error()
    }

    /// Whether this side has sent close_notify (for tests of `shutdown`).
    var sentCloseNotify: Bool { SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN != 0 }

    /// Bytes OpenSSL holds that the socket will not signal again: decrypted, or read ahead and
    /// not yet decrypted (`SSL_pending` would not count those).
    @inline(__always)
    public var hasBufferedBytes: Bool { SSL_has_pending(ssl) != 0 }

    // MARK: the peer

    /// SHA-256 (lower-case hex) of the peer's certificate, nil if it sent none.
    public func peerCertificateSHA256Hex() -> String? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        return TLSFingerprint.sha256Hex(certificate)
    }

    /// The certificate check's verdict after the handshake: nil when it passed (or nothing was
    /// checked), otherwise OpenSSL's text ("hostname mismatch", "self-signed certificate", ...).
    public var verifyFailure: String? {
        let code = SSL_get_verify_result(ssl)
        guard code != X509_V_OK else { return nil }
        guard let text = X509_verify_cert_error_string(code) else { return "verify error \(code)" }
        return String(cString: text)
    }

    // MARK: the one classifier

    /// Turns a failed (`result` <= 0) OpenSSL call into a `TLSResult`. Must run right after the
    /// call, on the same thread, with errno saved at once (SSL_get_error reads the thread's
    /// error queue, which `handshake`/`read`/`write` cleared before the call).
    func classify(_ result: Int32, _ savedErrno: Int32, _ operation: Operation) -> TLSResult {
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL { fatal = true }
        switch code {
        case SSL_ERROR_NONE:
            return .done(0)
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closedCleanly
        case SSL_ERROR_SYSCALL:
            // The socket itself failed. A would-block that OpenSSL did not flag as a retry is
            // still a would-block; errno 0 with an empty queue is EOF (OpenSSL before 3.0, and
            // a few paths after); a reset or broken pipe is `.failed` of kind `.connectionLost`
            // (the peer went away, it refused nothing); everything else is a real error.
            switch savedErrno {
            case EAGAIN, EWOULDBLOCK, EINTR:
                fatal = false   // not an error after all: the socket only had to wait
                return operation == .write ? .wantWrite : .wantRead
            case 0 where ERR_peek_error() == 0:
                return .closedAbruptly
            case let code where TransportError.isConnectionLost(errno: code):
                return .failed(Self.failure(ssl, operation, savedErrno, kind: .connectionLost))
            default:
                return .failed(Self.failure(ssl, operation, savedErrno))
            }
        case SSL_ERROR_SSL:
            let first = ERR_peek_error()
            if first != 0 && pl_ERR_GET_REASON(first) == pl_SSL_R_UNEXPECTED_EOF_WHILE_READING() {
                ERR_clear_error()
                return .closedAbruptly
            }
            return .failed(Self.failure(ssl, operation, savedErrno))
        default:
            // WANT_X509_LOOKUP, WANT_ASYNC, ...: callbacks this package never installs.
            return .failed(Self.failure(ssl, operation, savedErrno))
        }
    }

    /// The readable failure: the operation, the drained error queue (or errno when the queue is
    /// empty) and, for a handshake, why the peer's certificate was refused.
    private static func failure(_ ssl: OpaquePointer, _ operation: Operation, _ savedErrno: Int32,
                                kind: TransportError.Kind = .other) -> TransportError {
        let error = TransportError.openSSL("\(operation.name)", errnoValue: savedErrno, kind: kind)
        guard operation == .handshake else { return error }
        let code = SSL_get_verify_result(ssl)
        guard code != X509_V_OK, let text = X509_verify_cert_error_string(code) else { return error }
        // A refused certificate is a refusal, whatever the socket did afterwards.
        return TransportError(error.description + " (certificate: \(String(cString: text)))")
    }
}
