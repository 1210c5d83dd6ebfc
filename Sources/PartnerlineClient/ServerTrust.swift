import Foundation

/// How a client decides that the TLS server it reached is the right one.
public enum ServerTrust: Sendable, Hashable {
    /// The chain must lead to a certificate in this PEM file (a private CA, or the server's own
    /// self-signed certificate) and name the host connected to (DNS name or IP address).
    case certificateAuthority(file: String)
    /// The chain must lead to the system's trust store and name the host connected to.
    case systemTrustStore
    /// The server's certificate must have exactly this SHA-256 fingerprint (hex, any case, colons
    /// allowed, as `openssl x509 -noout -fingerprint -sha256` prints it). The name is not checked:
    /// the pin is the identity.
    case pinnedFingerprint(String)
    /// Trust on first use: the first certificate seen for `host:port` is written to this file;
    /// later connections must present the same one, or are refused naming both fingerprints and
    /// the line to edit.
    case knownHosts(file: String)
}

/// A client certificate (PEM chain) and its private key, for servers that map certificates to
/// accounts (`LOGIN <account> *`).
public struct ClientCertificate: Sendable, Hashable {
    public var certificateFile: String
    public var privateKeyFile: String

    public init(certificateFile: String, privateKeyFile: String) {
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }
}

/// Where and how to connect.
public struct ConnectionOptions: Sendable, Hashable {
    public enum Security: Sendable, Hashable {
        /// TLS, the server checked by `trust`, optionally with a client certificate.
        case tls(ServerTrust, clientCertificate: ClientCertificate? = nil)
        /// No TLS. Allowed only when the address reached is loopback (127.0.0.0/8, ::1): the
        /// server refuses LOGIN over plaintext from anywhere else, and a password must not cross
        /// a network in the clear.
        case plaintextLoopback
    }

    public var host: String
    public var port: Int
    public var security: Security
    /// TCP connect, TLS handshake and greeting, each bounded by this.
    public var timeoutSeconds: Int
    /// A command line longer than this (bytes before CRLF) is refused before sending: the server
    /// would answer `ERR LINE_TOO_LONG` without the command's tag. The server's default is 4096.
    public var maxLineBytes: Int

    public init(host: String, port: Int, security: Security, timeoutSeconds: Int = 10, maxLineBytes: Int = 4096) {
        self.host = host
        self.port = port
        self.security = security
        self.timeoutSeconds = timeoutSeconds
        self.maxLineBytes = maxLineBytes
    }

    /// `host:port`, with brackets around an IPv6 literal: the key in a known-hosts file.
    public var hostPort: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// SHA-256 fingerprints as this library writes and compares them: 64 lower-case hex digits.
public enum Fingerprint {
    /// Accepts `AB:CD:...`, `abcd...`, with an optional `sha256:` / `SHA256 Fingerprint=` prefix;
    /// nil if what remains is not 32 bytes of hex.
    public static func normalized(_ text: String) -> String? {
        var s = text.trimmingCharacters(in: .whitespaces).lowercased()
        for prefix in ["sha256 fingerprint=", "sha256:", "sha256="] where s.hasPrefix(prefix) {
            s.removeFirst(prefix.count)
        }
        s.removeAll { $0 == ":" }
        guard s.count == 64, s.allSatisfy({ $0.isHexDigit }) else { return nil }
        return s
    }

    /// `AB:CD:...`, the form `openssl x509 -fingerprint -sha256` prints, for messages.
    public static func display(_ hex: String) -> String {
        var out = ""
        for (i, c) in hex.uppercased().enumerated() {
            if i > 0 && i % 2 == 0 { out.append(":") }
            out.append(c)
        }
        return out
    }
}

/// A known-hosts file: one `<host>:<port> sha256:<hex>` per line; `#` starts a comment.
/// Pure: reading, deciding and the line to append; the caller does the file I/O.
public struct KnownHosts: Sendable {
    public struct Entry: Sendable, Hashable {
        public var hostPort: String
        public var fingerprint: String
        /// 1-based line number in the file.
        public var line: Int
    }

    public enum Decision: Sendable, Hashable {
        /// The host is known with this fingerprint.
        case trusted
        /// First use: append `lineToAppend` and trust it.
        case firstUse(lineToAppend: String)
        /// The host is known with another fingerprint.
        case changed(known: Entry)
    }

    public private(set) var entries: [Entry] = []

    public init(contents: String) {
        for (index, raw) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard words.count >= 2, let fingerprint = Fingerprint.normalized(String(words[1])) else { continue }
            entries.append(Entry(hostPort: String(words[0]), fingerprint: fingerprint, line: index + 1))
        }
    }

    public func decide(hostPort: String, fingerprint: String) -> Decision {
        guard let known = entries.first(where: { $0.hostPort == hostPort }) else {
            return .firstUse(lineToAppend: "\(hostPort) sha256:\(fingerprint)\n")
        }
        return known.fingerprint == fingerprint ? .trusted : .changed(known: known)
    }

    /// The refusal for a changed certificate: both fingerprints, and the file and line to edit.
    public static func changedMessage(hostPort: String, presented: String, known: Entry, file: String) -> String {
        """
        REFUSED: the server at \(hostPort) presented a certificate that is not the one trusted for it.
          presented: SHA-256 \(Fingerprint.display(presented))
          trusted:   SHA-256 \(Fingerprint.display(known.fingerprint)) (\(file), line \(known.line))
        Someone may be intercepting the connection, or the server's certificate was replaced. Ask the
        server's operator for its fingerprint; if it is the presented one, edit or delete line \(known.line)
        of \(file) and connect again.
        """
    }
}
