import COpenSSL
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum CertificateFactory {
    /// Makes a P-256 EC key and a self-signed X.509 v3 certificate (CN=commonName,
    /// subjectAltName with the given DNS names and IP addresses, e.g.
    /// ["localhost", "127.0.0.1", "::1"]), valid `days` days (from one hour ago, for clock skew).
    /// Writes PEM files; the key file gets mode 0600. Creates parent directories.
    public static func makeSelfSigned(commonName: String, subjectAltNames: [String], days: Int,
                                      certificatePath: String, privateKeyPath: String) throws {
        ERR_clear_error()
        guard let key = pl_EVP_EC_gen("prime256v1") else {
            throw TransportError.openSSL("EC P-256 key generation")
        }
        defer { EVP_PKEY_free(key) }
        guard let cert = X509_new() else { throw TransportError.openSSL("X509_new") }
        defer { X509_free(cert) }

        guard X509_set_version(cert, 2) == 1 else { throw TransportError.openSSL("X509_set_version") }
        var serial: Int64 = 0
        withUnsafeMutableBytes(of: &serial) { _ = RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8) }
        serial = (serial & Int64.max) | 1   // positive, non-zero
        guard ASN1_INTEGER_set_int64(X509_get_serialNumber(cert), serial) == 1 else {
            throw TransportError.openSSL("serial number")
        }
        guard X509_gmtime_adj(X509_getm_notBefore(cert), -3600) != nil,
              X509_gmtime_adj(X509_getm_notAfter(cert), max(1, days) * 86_400) != nil else {
            throw TransportError.openSSL("validity")
        }
        guard X509_set_pubkey(cert, key) == 1 else { throw TransportError.openSSL("X509_set_pubkey") }
        guard let name = X509_get_subject_name(cert),
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, commonName, -1, -1, 0) == 1,
              X509_set_issuer_name(cert, name) == 1 else {
            throw TransportError.openSSL("subject name CN=\(commonName)")
        }

        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_ext_key_usage, "serverAuth,clientAuth"),
            (NID_subject_key_identifier, "hash"),
        ]
        let sanText = subjectAltNames.map { isIPAddress($0) ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        if !sanText.isEmpty {
            extensions.append((NID_subject_alt_name, sanText))
        }
        for (nid, value) in extensions {
            guard pl_X509_add_ext_conf(cert, nid, value) == 1 else {
                throw TransportError.openSSL("X.509 extension \(value)")
            }
        }
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw TransportError.openSSL("X509_sign") }

        let certPEM = try pem { PEM_write_bio_X509($0, cert) }
        let keyPEM = try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }

        try makeParentDirectory(of: certificatePath)
        try makeParentDirectory(of: privateKeyPath)
        try writeFile(privateKeyPath, keyPEM, mode: 0o600)
        try writeFile(certificatePath, certPEM, mode: 0o644)
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    private static func pem(_ write: (OpaquePointer) -> Int32) throws -> [UInt8] {
        guard let bio = BIO_new(BIO_s_mem()) else { throw TransportError.openSSL("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw TransportError.openSSL("PEM write") }
        var data: UnsafeMutablePointer<CChar>?
        let length = pl_BIO_get_mem_data(bio, &data)
        guard length > 0, let data else { throw TransportError.openSSL("BIO_get_mem_data") }
        return data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    private static func makeParentDirectory(of path: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        guard !parent.isEmpty else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw TransportError("creating directory \(parent): \(error)")
        }
    }

    /// open(O_CREAT|O_TRUNC) with the mode, fchmod in case the file already existed, write all.
    private static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TransportError.posix("open \(path)") }
        defer { _ = Glibc.close(fd) }
        guard fchmod(fd, mode) == 0 else { throw TransportError.posix("fchmod \(path)") }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError.posix("write \(path)")
            }
            offset += n
        }
    }
}
