import COpenSSL

/// SHA-256 fingerprints of certificates, as `openssl x509 -fingerprint -sha256` prints them
/// but lower-case and without colons.
public enum TLSFingerprint {
    /// The certificate in a PEM file (the first one, for a chain), or nil if it cannot be read.
    public static func sha256Hex(pemFile path: String) -> String? {
        guard let file = BIO_new_file(path, "r") else {
            ERR_clear_error()
            return nil
        }
        defer { BIO_free(file) }
        guard let certificate = PEM_read_bio_X509(file, nil, nil, nil) else {
            ERR_clear_error()
            return nil
        }
        defer { X509_free(certificate) }
        return sha256Hex(certificate)
    }

    /// An X509* (a peer's certificate: `TLSStream.peerCertificateSHA256Hex`).
    static func sha256Hex(_ certificate: OpaquePointer) -> String? {
        var digest = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        guard X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 else {
            ERR_clear_error()
            return nil
        }
        let hex: [Character] = Array("0123456789abcdef")
        var text = ""
        for byte in digest.prefix(Int(length)) {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return text
    }
}
