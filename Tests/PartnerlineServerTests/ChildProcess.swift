import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs tools (openssl s_client / s_server) with posix_spawn: output to a file, stdin from
/// /dev/null, and every other descriptor closed in the child. Two reasons: a child that inherits
/// the test process's descriptors holds other tests' journal locks (flock) and sockets open while
/// it runs; and Foundation's Process sometimes never saw a quick child exit (waitUntilExit hung).
enum ChildProcess {
    /// Starts `command` (a full path first); its stdout and stderr go to `outputFile`; stdin is
    /// `stdin` if given (a pipe's read end), else /dev/null.
    static func spawn(_ command: [String], outputFile: String, stdin: Int32? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = addCloseFrom(&actions, 3)
        var cArguments = command.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, command[0], &actions, nil, &cArguments, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(command[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34+), which Swift's Glibc module does
    /// not show (it is a GNU extension), looked up at run time.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            fatalError("glibc 2.34 or later is needed (posix_spawn_file_actions_addclosefrom_np)")
        }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    static func wait(_ pid: pid_t) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// Runs a short-lived command to its end and returns what it printed. `timeout` (coreutils)
    /// wraps it as a hang guard.
    static func output(of command: [String], timeoutSeconds: Int = 20) throws -> String {
        let file = NSTemporaryDirectory() + "partnerline-child-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: file) }
        wait(try spawn(["/usr/bin/timeout", String(timeoutSeconds)] + command, outputFile: file))
        return (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }
}
