import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs programs (openssl, tmux, the bot, the server's tool commands) with posix_spawn rather than
/// Foundation's Process: a child that inherits the test process's descriptors holds other tests'
/// journal locks (flock) and sockets open while it runs; Process sometimes never saw a quick
/// child's exit (waitUntilExit hung); and a child could inherit a Dispatch thread's blocked signals.
public enum ChildProcess {
    /// Where the child's standard input comes from.
    public enum Input: Sendable {
        case devNull
        case file(String)
        /// A descriptor of this process (e.g. a pipe's read end), duplicated as the child's stdin.
        case descriptor(Int32)
    }

    /// Starts `command` (a full path first). Its stdout goes to `outputFile`; stderr joins it
    /// unless `discardStderr`. `environment` nil passes this process's own. Descriptors above 2
    /// are closed in the child unless `closeOtherDescriptors` is false; `resetSignals` gives the
    /// child an empty signal mask and default handlers (its own children inherit both).
    public static func spawn(_ command: [String], outputFile: String, stdin: Input = .devNull,
                             discardStderr: Bool = false, environment: [String: String]? = nil,
                             closeOtherDescriptors: Bool = true, resetSignals: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        switch stdin {
        case .devNull: posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        case .file(let path): posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0)
        case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, fd, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, outputFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if discardStderr {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        if closeOtherDescriptors { _ = addCloseFrom(&actions, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if resetSignals {
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigmask(&attributes, &empty)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGWINCH, SIGCHLD] { sigaddset(&defaults, sig) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        }
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var pid: pid_t = 0
        let rc: Int32
        if let envp {
            rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, envp)
        } else {
            rc = posix_spawn(&pid, command[0], &actions, &attributes, argv, environ)
        }
        guard rc == 0 else { throw TestFailure("posix_spawn \(command[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Waits for the child and returns its exit status (128 + signal if a signal ended it).
    @discardableResult
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// What a command run to its end printed (stdout and stderr together), and its exit status.
    public struct Result: Sendable {
        public let status: Int32
        public let output: String
    }

    /// Runs a short-lived command to its end, `stdin` (if given) as its standard input, under
    /// coreutils `timeout` as a hang guard.
    public static func run(_ command: [String], stdin: String? = nil, timeoutSeconds: Int = 120) throws -> Result {
        let outputFile = NSTemporaryDirectory() + "partnerline-child-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        var input = Input.devNull
        var inputFile: String?
        if let stdin {
            let file = NSTemporaryDirectory() + "partnerline-child-\(UUID().uuidString).in"
            try stdin.write(toFile: file, atomically: true, encoding: .utf8)
            inputFile = file
            input = .file(file)
        }
        defer { if let inputFile { try? FileManager.default.removeItem(atPath: inputFile) } }
        let status = wait(try spawn(["/usr/bin/timeout", String(timeoutSeconds)] + command, outputFile: outputFile, stdin: input))
        return Result(status: status, output: (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }

    /// What a short-lived command printed (see `run`).
    public static func output(of command: [String], timeoutSeconds: Int = 20) throws -> String {
        try run(command, timeoutSeconds: timeoutSeconds).output
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
}
