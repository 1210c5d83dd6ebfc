import COpenSSL
import Foundation

/// Immutable shared SSL_CTX for outgoing connections (the bench tool and bots).
///
/// TLS 1.2 minimum, idle buffers released (so thousands of idle client connections stay small),
/// partial writes with a moving write buffer, as on the server side. With `verifyPeer` false the
/// server's certificate is not checked: only for loopback benchmarks against a self-signed
/// server, never for a connection that carries real credentials.
public final class TLSClientContext: @unchecked Sendable {
    let context: OpaquePointer

    public init(verifyPeer: Bool = true, caFile: String? = nil) throws {
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
        context = ctx
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A client-side SSL* on a connected socket; the handshake starts with SSL_set_connect_state.
    func makeSSL(fd: Int32, serverName: String?) throws -> OpaquePointer {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else { throw TransportError.openSSL("SSL_new") }
        guard SSL_set_fd(ssl, fd) == 1 else {
            let error = TransportError.openSSL("SSL_set_fd")
            SSL_free(ssl)
            throw error
        }
        if let serverName, !serverName.isEmpty, Int(serverName.prefix(1)) == nil, !serverName.contains(":") {
            _ = pl_SSL_set_tlsext_host_name(ssl, serverName)   // SNI for names only, never for IP literals
        }
        SSL_set_connect_state(ssl)
        return ssl
    }
}
