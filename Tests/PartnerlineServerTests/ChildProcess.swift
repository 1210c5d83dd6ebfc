import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a short-lived command with posix_spawn and waits for it with waitpid, output to a temp
/// file. Foundation's Process sometimes never saw a quick child exit when several ran in a row
/// (waitUntilExit hung), so tool runs that must finish use this instead. `timeout` (coreutils)
/// wraps the command as a hang guard.
enum ChildProcess {
    static func output(of command: [String], timeoutSeconds: Int = 20) throws -> String {
        let file = NSTemporaryDirectory() + "partnerline-child-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let argv = ["/usr/bin/timeout", String(timeoutSeconds)] + command
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard rc == 0 else { throw TestFailure("posix_spawn \(command[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    }
}
