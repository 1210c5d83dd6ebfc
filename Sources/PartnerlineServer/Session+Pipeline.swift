import PartnerlineCore
import PartnerlineProtocol

/// Pipelined posting. A post's OK waits for the journal (one group commit, an fsync under
/// `batch`/`always`); if the session also waited before reading the client's next command, one
/// connection could never post faster than one fsync at a time. So a posting command whose verb
/// pipelines (`Verb.pipelines`, declared with the typed `Command`) starts while earlier posts of this session still wait for their journal
/// batch, and its reply takes its place in `replyQueue`: replies still leave in command order.
///
/// Only posts overlap, and only with posts: any other command waits until every post before it
/// is answered, so nothing a command checks (membership, items, ...) can depend on a post that
/// is not yet durable. EV lines are not replies and are not held back (each poster still gets its
/// EV before its OK: the shard hands out the lines of a batch before the batch's replies).
final class PendingReply: @unchecked Sendable {   // touched only on its session's queue
    var bytes: [UInt8]?
    init(_ bytes: [UInt8]?) { self.bytes = bytes }
}

extension Session {
    /// Posts one session may have waiting for the journal at once.
    static let maxPipelinedPosts = 64

    /// A waiting entry that may start while earlier posts wait (a refused one waits its turn).
    static func startsPipelinedPost(_ entry: Waiting) -> Bool {
        guard case .line(let line) = entry else { return false }
        return startsPipelinedVerb(line)
    }

    /// True when `line`'s verb (after an optional `@tag `) pipelines.
    static func startsPipelinedVerb(_ line: FramedLine) -> Bool {
        guard case .line(let bytes) = line else { return false }
        var start = 0
        if bytes.first == UInt8(ascii: "@") {
            guard let space = bytes.firstIndex(of: 32) else { return false }
            start = space + 1
        }
        var end = start
        while end < bytes.count, bytes[end] != 32, bytes[end] != 9 { end += 1 }
        guard end > start, end - start <= 16 else { return false }
        let verb = String(decoding: bytes[start..<end], as: UTF8.self).uppercased()
        return Verb(rawValue: verb)?.pipelines ?? false
    }
}
