import COpenSSL
import Foundation

/// Immutable shared SSL_CTX for outgoing connections (the client library, the bench, bots).
///
/// TLS 1.2 minimum, idle buffers released (so thousands of idle client connections stay small),
/// partial writes with a moving write buffer, as on the server side.
///
/// With `verifyPeer` the server's chain is checked against `caFile` (or the system's trust store)
/// and so is its name: every `TLSStream` made on it for a host expects that host in the
/// certificate (`SSL_set1_host` for a DNS name, `X509_VERIFY_PARAM_set1_ip_asc` for an IP
/// literal), so a certificate for another name is refused in the handshake. With `verifyPeer` false nothing is
/// checked by OpenSSL: only for loopback benchmarks, or when the caller checks the certificate
/// itself after the handshake (a pinned fingerprint, trust on first use).
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer
    public let verifiesPeer: Bool

    /// certificateFile/privateKeyFile: a client certificate (PEM chain) and its key, sent when
    /// the server asks for one (bots logging in by certificate).
    public init(verifyPeer: Bool = true, caFile: String? = nil, certificateFile: String? = nil,
                privateKeyFile: String? = nil) throws {
        let ctx = try SharedTLSSettings.makeContext(TLS_client_method(), role: "client")
        func fail(_ what: String) -> TransportError {
            let error = TransportError.openSSL(what)
            SSL_CTX_free(ctx)
            return error
        }
        if verifyPeer {
            if let caFile {
                guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else { throw fail("loading CA file \(caFile)") }
            } else {
                guard SSL_CTX_set_default_verify_paths(ctx) == 1 else { throw fail("SSL_CTX_set_default_verify_paths") }
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        if let certificateFile {
            guard SSL_CTX_use_certificate_chain_file(ctx, certificateFile) == 1 else {
                throw fail("loading client certificate \(certificateFile)")
            }
            guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyFile ?? certificateFile, SSL_FILETYPE_PEM) == 1,
                  SSL_CTX_check_private_key(ctx) == 1 else {
                throw fail("loading the private key \(privateKeyFile ?? certificateFile) for \(certificateFile)")
            }
        }
        context = ctx
        verifiesPeer = verifyPeer
    }

    deinit {
        SSL_CTX_free(context)
    }
}
