import COpenSSL

/// What every Partnerline SSL_CTX has, client or server: TLS 1.2 minimum, no compression, no
/// renegotiation, idle buffers released (trap 9), partial writes from a buffer that may move
/// (coalesced flushes), and read-ahead: one `read` takes everything the socket holds instead of a
/// 5-byte header and then the record body (`Connection.readTLS` relies on
/// `TLSStream.hasBufferedBytes` for what read-ahead buffered). `Connection`s and
/// `BlockingLineClient` use these contexts alike.
///
/// `SSL_OP_IGNORE_UNEXPECTED_EOF` is deliberately not set: OpenSSL then reports an EOF without
/// close_notify as `SSL_R_UNEXPECTED_EOF_WHILE_READING`, which `TLSStream.classify` turns into
/// `.closedAbruptly`, distinct from a clean `.closedCleanly`. Both are a normal end for a line
/// protocol (trap 4); the callers decide, and tests can tell them apart.
enum SharedTLSSettings {
    /// A new SSL_CTX for `method` with those settings; the caller owns it.
    static func makeContext(_ method: OpaquePointer?, role: String) throws -> OpaquePointer {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(method) else {
            throw TransportError.openSSL("SSL_CTX_new(\(role))")
        }
        guard pl_SSL_CTX_set_min_proto_version(ctx, pl_TLS1_2_VERSION()) == 1 else {
            let error = TransportError.openSSL("SSL_CTX_set_min_proto_version(TLS1.2)")
            SSL_CTX_free(ctx)
            throw error
        }
        _ = SSL_CTX_set_options(
            ctx,
            pl_SSL_OP_NO_COMPRESSION() | pl_SSL_OP_NO_RENEGOTIATION())
        _ = pl_SSL_CTX_set_mode(
            ctx,
            pl_SSL_MODE_RELEASE_BUFFERS() | pl_SSL_MODE_ENABLE_PARTIAL_WRITE()
                | pl_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER())
        pl_SSL_CTX_set_read_ahead(ctx, 1)
        return ctx
    }
}
