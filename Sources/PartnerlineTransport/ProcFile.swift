#if canImport(Glibc)
import Glibc
#endif

/// Reads a Linux /proc file whole. They report a size of 0 and hand out long tables
/// (`/proc/net/tcp`, `/proc/cpuinfo`) a page per read, so a reader that trusts the size or
/// reads once gets nothing or a part: this one calls read(2) until EOF.
public enum ProcFile {
    /// The file's text, or nil if it cannot be opened.
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
