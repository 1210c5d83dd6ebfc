import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The terminal in raw mode, and the promise to give it back as it was: on a normal exit, on
/// SIGTERM/SIGHUP/SIGINT (through the event loop) and on a crash signal (SIGSEGV, SIGABRT, SIGBUS,
/// SIGILL, SIGFPE: straight from the handler, with only async-signal-safe calls - write(2) of a
/// prepared byte string and tcsetattr(3) - before the signal is raised again with its default
/// action, so a core dump still happens).
enum Terminal {
    /// Shared with the signal handlers: set up once before any handler is installed, then read only.
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var active: Int32 = 0
    /// Leave the alternate screen, turn bracketed paste off, show the cursor, reset attributes.
    nonisolated(unsafe) private static let restoreBytes: UnsafeMutableBufferPointer<UInt8> = {
        let bytes = Array("\u{1B}[?2004l\u{1B}[0m\u{1B}[?25h\u{1B}[?1049l".utf8)
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        return buffer
    }()
    /// The write end of the self-pipe the event loop polls: SIGWINCH and SIGTERM write here.
    nonisolated(unsafe) static var wakeFD: Int32 = -1
    nonisolated(unsafe) static var resized: Int32 = 0
    nonisolated(unsafe) static var terminated: Int32 = 0

    static var isInteractive: Bool { isatty(0) == 1 && isatty(1) == 1 }

    /// Raw mode (no echo, no line buffering, no signals from keys: Ctrl-C arrives as a key),
    /// the alternate screen and bracketed paste.
    static func enter() throws {
        guard tcgetattr(0, &saved) == 0 else { throw ClientError("cannot read the terminal's settings") }
        var raw = saved
        raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
        raw.c_oflag &= ~tcflag_t(OPOST)
        raw.c_cflag |= tcflag_t(CS8)
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        _ = restoreBytes
        installCrashHandlers()
        active = 1
        guard tcsetattr(0, TCSANOW, &raw) == 0 else { throw ClientError("cannot put the terminal in raw mode") }
        write("\u{1B}[?1049h\u{1B}[?2004h\u{1B}[H\u{1B}[2J")
    }

    /// Gives the terminal back as it was. Safe to call twice.
    static func restore() {
        guard active == 1 else { return }
        active = 0
        _ = Glibc.write(1, restoreBytes.baseAddress, restoreBytes.count)
        _ = tcsetattr(0, TCSAFLUSH, &saved)
    }

    static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    static func size() -> (rows: Int, columns: Int) {
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_row > 0, ws.ws_col > 0 {
            return (Int(ws.ws_row), Int(ws.ws_col))
        }
        return (24, 80)
    }

    /// The handlers that were there before ours (Swift's backtracer): put back before the signal
    /// is raised again, so the crash report is still written, after the terminal is restored.
    nonisolated(unsafe) private static let previous: UnsafeMutablePointer<sigaction> = {
        let pointer = UnsafeMutablePointer<sigaction>.allocate(capacity: 32)
        pointer.initialize(repeating: sigaction(), count: 32)
        return pointer
    }()

    private static func installCrashHandlers() {
        _ = previous
        for sig in [SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                if Terminal.active == 1 {
                    Terminal.active = 0
                    _ = Glibc.write(1, Terminal.restoreBytes.baseAddress, Terminal.restoreBytes.count)
                    _ = tcsetattr(0, TCSAFLUSH, &Terminal.saved)
                }
                _ = sigaction(sig, Terminal.previous + Int(sig), nil)
                raise(sig)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(sig, &action, previous + Int(sig))
        }
    }

    /// SIGWINCH, SIGTERM, SIGHUP, SIGINT: set a flag and wake the event loop through the pipe;
    /// the loop redraws or restores the terminal and exits.
    static func installLoopSignals(wake: Int32) {
        wakeFD = wake
        signal(SIGPIPE, SIG_IGN)
        unblockSignals()
        for sig in [SIGTERM, SIGHUP, SIGINT] {
            signal(sig) { _ in
                Terminal.terminated = 1
                var byte: UInt8 = 2
                _ = Glibc.write(Terminal.wakeFD, &byte, 1)
            }
        }
        signal(SIGWINCH) { _ in
            Terminal.resized = 1
            var byte: UInt8 = 1
            _ = Glibc.write(Terminal.wakeFD, &byte, 1)
        }
    }

    /// Called first thing in main, before any thread starts (threads inherit the mask).
    static func unblockSignals() {
        // A parent may have left these blocked (a program started from a Dispatch thread passes
        // its mask on); blocked, SIGTERM would never reach the loop and the terminal never be
        // given back.
        var handled = sigset_t()
        sigemptyset(&handled)
        for sig in [SIGWINCH, SIGTERM, SIGHUP, SIGINT, SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE] { sigaddset(&handled, sig) }
        pthread_sigmask(SIG_UNBLOCK, &handled, nil)
    }
}

/// A failure with a sentence for the user.
struct ClientError: Error, CustomStringConvertible {
    let description: String
    /// Retrying will not help (a changed certificate, a refused login): stop reconnecting.
    let isFinal: Bool

    init(_ description: String, final: Bool = false) {
        self.description = description
        isFinal = final
    }
}
