import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Trust on first use, as ssh does it: `HOST:PORT SHA256-HEX` per line. The first connection to
/// a server records its certificate's fingerprint; later connections must present the same one.
/// A changed certificate is refused, naming both fingerprints and the line to delete if the
/// change is expected (a renewed self-signed certificate).
struct KnownHosts {
    let path: String

    enum Verdict: Equatable {
        case known
        case recorded
        case changed(expected: String, got: String, line: Int)
    }

    func entries() -> [(key: String, fingerprint: String)] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { line in
            let words = line.split(separator: " ")
            guard words.count >= 2, !line.hasPrefix("#") else { return nil }
            return (String(words[0]), String(words[1]).lowercased())
        }
    }

    func check(_ endpoint: Endpoint, fingerprint: String) throws -> Verdict {
        let lines = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
        for (number, line) in lines.enumerated() {
            let words = line.split(separator: " ")
            guard words.count >= 2, !line.hasPrefix("#"), words[0] == endpoint.key else { continue }
            let expected = String(words[1]).lowercased()
            return expected == fingerprint.lowercased() ? .known : .changed(expected: expected, got: fingerprint, line: number + 1)
        }
        try record(endpoint, fingerprint: fingerprint)
        return .recorded
    }

    private func record(_ endpoint: Endpoint, fingerprint: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                 attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClientError("cannot write known-hosts file \(path): \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(fd) }
        let line = Array("\(endpoint.key) \(fingerprint)\n".utf8)
        guard Glibc.write(fd, line, line.count) == line.count else { throw ClientError("cannot write known-hosts file \(path)") }
    }

    static func refusal(_ endpoint: Endpoint, expected: String, got: String, line: Int, path: String) -> String {
        """
        REFUSED: the server at \(endpoint.key) presented a DIFFERENT certificate than before.
          known fingerprint (SHA-256):   \(expected)
          offered fingerprint (SHA-256): \(got)
        Someone may be intercepting the connection. If the server's certificate was changed on
        purpose, check the new fingerprint with its operator, then delete line \(line) of \(path).
        """
    }
}

/// The password: PARTNERLINE_PASSWORD, else a file only its owner can read, else a prompt on the
/// terminal without echo. It is never printed or logged.
enum PasswordSource {
    static func obtain(file: String?, account: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let value = environment["PARTNERLINE_PASSWORD"], !value.isEmpty { return value }
        if let file { return try read(file) }
        return try prompt("Password for \(account): ")
    }

    static func read(_ path: String) throws -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ClientError("cannot read password file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw ClientError(String(format: "password file %@ can be read by others (mode %o): run chmod 600 %@", path,
                                     Int(info.st_mode & 0o777), path))
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ClientError("cannot read password file \(path)")
        }
        let password = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard !password.isEmpty else { throw ClientError("password file \(path) is empty") }
        return password
    }

    /// Reads a line from /dev/tty with echo off (so it works when standard input is a pipe).
    static func prompt(_ text: String) throws -> String {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard tty >= 0 else {
            throw ClientError("no password: set PARTNERLINE_PASSWORD or use --password-file (there is no terminal to ask on)")
        }
        defer { _ = Glibc.close(tty) }
        var saved = termios()
        _ = tcgetattr(tty, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        _ = Glibc.write(tty, text, text.utf8.count)
        _ = tcsetattr(tty, TCSAFLUSH, &quiet)
        defer { _ = tcsetattr(tty, TCSAFLUSH, &saved) }
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while Glibc.read(tty, &byte, 1) == 1, byte != 10, byte != 13 { bytes.append(byte) }
        let password = String(decoding: bytes, as: UTF8.self)
        guard !password.isEmpty else { throw ClientError("no password given") }
        return password
    }
}
