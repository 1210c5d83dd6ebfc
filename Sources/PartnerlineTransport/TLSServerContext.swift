import COpenSSL
import Foundation

/// Immutable shared SSL_CTX for servers (one per process; every connection's SSL refers to it).
///
/// TLS 1.2 minimum; TLS 1.2 suites are Mozilla "intermediate" restricted to ECDHE with
/// AES-GCM / ChaCha20-Poly1305; TLS 1.3 offers OpenSSL's three default suites but prefers
/// AES-128-GCM-SHA256 (see `tls13CipherSuites`). No compression,
/// no renegotiation, EOF without close_notify is a normal close (trap 4, `TLSStream`), release idle
/// buffers (trap 9), partial writes with a moving write buffer (for coalesced flushes).
public final class TLSServerContext: @unchecked Sendable {
    /// Mozilla intermediate (v5.7) TLS 1.2 list without the DHE suites.
    public static let tls12CipherList =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        + "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        + "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    /// OpenSSL's default TLS 1.3 suites with AES-128-GCM-SHA256 first, chosen by the server's
    /// order (`SSL_OP_CIPHER_SERVER_PREFERENCE`): OpenSSL's default puts AES-256-GCM-SHA384 first,
    /// and its SHA-384 transcript hash and bigger key schedule are state every idle connection
    /// keeps for life. AES-128-GCM is the suite every TLS 1.3 client must implement and is
    /// secure; a client that lists ChaCha20-Poly1305 first (no AES instructions, e.g. phones)
    /// still gets it (`SSL_OP_PRIORITIZE_CHACHA`).
    public static let tls13CipherSuites =
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"

    /// The SSL_CTX*. Never mutated after init.
    let context: OpaquePointer

    /// requestClientCertificates: ask every client for a certificate (a client may send none) and
    /// accept any it sends without chain verification: the server maps a certificate's SHA-256 to
    /// an account itself (pinning), so bots can use self-signed certificates.
    public init(certificateChainPath: String, privateKeyPath: String, requestClientCertificates: Bool = false) throws {
        let ctx = try SharedTLSSettings.makeContext(TLS_server_method(), role: "server")
        // deinit does not run for a partially initialised object: free ctx on failure.
        func fail(_ what: String) -> TransportError {
            let error = TransportError.openSSL(what)
            SSL_CTX_free(ctx)
            return error
        }
        guard SSL_CTX_set_cipher_list(ctx, TLSServerContext.tls12CipherList) == 1 else {
            throw fail("SSL_CTX_set_cipher_list")
        }
        guard SSL_CTX_set_ciphersuites(ctx, TLSServerContext.tls13CipherSuites) == 1 else {
            throw fail("SSL_CTX_set_ciphersuites")
        }
        _ = SSL_CTX_set_options(ctx, pl_SSL_OP_CIPHER_SERVER_PREFERENCE() | pl_SSL_OP_PRIORITIZE_CHACHA())
        guard SSL_CTX_use_certificate_chain_file(ctx, certificateChainPath) == 1 else {
            throw fail("loading certificate chain \(certificateChainPath)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyPath, SSL_FILETYPE_PEM) == 1 else {
            throw fail("loading private key \(privateKeyPath)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw fail("private key \(privateKeyPath) does not match certificate \(certificateChainPath)")
        }
        if requestClientCertificates {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER) { _, _ in 1 }
            // Needed for session resumption once SSL_VERIFY_PEER is set.
            let id = Array("partnerline".utf8)
            _ = SSL_CTX_set_session_id_context(ctx, id, UInt32(id.count))
        }
        self.context = ctx
    }

    deinit {
        SSL_CTX_free(context)
    }
}
