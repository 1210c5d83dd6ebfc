import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
