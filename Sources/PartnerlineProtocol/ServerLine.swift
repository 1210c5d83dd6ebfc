/// Encoders for server lines (spec "Server lines"). Every line ends with CRLF.
///
/// - A non-nil tag prefixes `@tag `.
/// - Values (in `key=value`) and positional words (rooms, actors, arguments,
///   tokens) that are empty or contain a space (ASCII space or TAB, or a non-ASCII
///   space such as U+00A0 or U+3000: Unicode White_Space), a quote, a backslash or `=`
///   are written as a double-quoted string with `\"` and `\\` escapes, and no other
///   value is (contract 1.1, "Parsing a server line"); a positional word starting with
///   `:` is quoted too, so it cannot be taken for the text. `ServerLineTokens` reads them back.
/// - Text is written as ` :` + text.
/// - Control characters other than TAB (in text and quoted values) are written
///   as U+FFFD, so that nothing can break the framing of a line.
public enum ServerLine {
    /// The protocol name and version sent in HELLO.
    public static let protocolVersion = "partnerline/1"

    /// `HELLO partnerline/1 <server-name> :<text>`
    public static func hello(serverName: String, text: String) -> [UInt8] {
        var w = LineWriter()
        w.word("HELLO")
        w.space()
        w.word(protocolVersion)
        w.space()
        w.argument(serverName)
        w.text(text)
        return w.finish()
    }

    /// `[@tag ]OK <VERB> [key=value ...] [:text]`
    public static func ok(tag: String?, verb: String, fields: [(String, String)] = [], text: String? = nil) -> [UInt8] {
        var w = LineWriter(tag: tag)
        w.word("OK")
        w.space()
        w.word(verb)
        w.fields(fields)
        if let text { w.text(text) }
        return w.finish()
    }

    /// `[@tag ]ERR <CODE> <VERB> :<message>`
    public static func err(tag: String?, code: ErrorCode, verb: String, message: String) -> [UInt8] {
        var w = LineWriter(tag: tag)
        w.word("ERR")
        w.space()
        w.word(code.rawValue)
        w.space()
        w.word(verb)
        w.text(message)
        return w.finish()
    }

    /// `ERR` for a parse failure, with its tag, code, verb and message.
    public static func err(_ failure: ParseFailure) -> [UInt8] {
        err(tag: failure.tag, code: failure.code, verb: failure.verb, message: failure.message)
    }

    /// `[@tag ]* <WORD> [args ...] [key=value ...] [:text]` — a data line of a reply.
    public static func data(
        tag: String?, word: String, arguments: [String] = [], fields: [(String, String)] = [], text: String? = nil
    ) -> [UInt8] {
        var w = LineWriter(tag: tag)
        w.word("*")
        w.space()
        w.word(word)
        for argument in arguments {
            w.space()
            w.argument(argument)
        }
        w.fields(fields)
        if let text { w.text(text) }
        return w.finish()
    }

    /// `EV <room> <seq> <time> <actor> <KIND> [key=value ...] [:text]`, untagged;
    /// use `tagged(_:_:)` for an EV inside a tagged HISTORY reply.
    public static func event(
        room: String, seq: UInt64, timeMillis: Int64, actor: String, kind: String,
        fields: [(String, String)] = [], text: String? = nil
    ) -> [UInt8] {
        var w = LineWriter()
        w.word("EV")
        w.space()
        w.argument(room)
        w.space()
        w.decimal(seq)
        w.space()
        Timestamp.append(millis: timeMillis, to: &w.bytes)
        w.space()
        w.argument(actor)
        w.space()
        w.word(kind)
        w.fields(fields)
        if let text { w.text(text) }
        return w.finish()
    }

    /// Prefixes `@tag ` to an encoded line when `tag` is not nil.
    public static func tagged(_ tag: String?, _ line: [UInt8]) -> [UInt8] {
        guard let tag else { return line }
        var w = LineWriter(tag: tag, capacity: line.count)
        w.bytes.append(contentsOf: line)
        return w.bytes
    }

    /// `PING <token>`; the client answers `PONG <token>`.
    public static func ping(token: String) -> [UInt8] {
        var w = LineWriter()
        w.word("PING")
        w.space()
        w.argument(token)
        return w.finish()
    }

    /// `READ <room> <seq>` (1.1): another connection of this account moved its read marker in `room`.
    public static func read(room: String, seq: UInt64) -> [UInt8] {
        var w = LineWriter()
        w.word("READ")
        w.space()
        w.argument(room)
        w.space()
        w.argument(String(seq))
        return w.finish()
    }

    /// `NOTICE :<text>`
    public static func notice(_ text: String) -> [UInt8] {
        var w = LineWriter()
        w.word("NOTICE")
        w.text(text)
        return w.finish()
    }

    /// `BYE <CODE> :<text>`
    public static func bye(code: String, text: String) -> [UInt8] {
        var w = LineWriter()
        w.word("BYE")
        w.space()
        w.word(code)
        w.text(text)
        return w.finish()
    }
}

/// Appends the parts of one server line to a byte buffer.
struct LineWriter {
    var bytes: [UInt8] = []

    init(tag: String? = nil, capacity: Int = 96) {
        bytes.reserveCapacity(capacity + (tag.map { $0.utf8.count + 2 } ?? 0) + 2)
        if let tag {
            bytes.append(Byte.at)
            word(tag)
            space()
        }
    }

    mutating func finish() -> [UInt8] {
        bytes.append(Byte.cr)
        bytes.append(Byte.lf)
        return bytes
    }

    @inline(__always)
    mutating func space() { bytes.append(Byte.space) }

    /// A fixed word of the protocol (verb, code, kind): written as is, controls and blanks replaced.
    mutating func word(_ s: String) {
        if !s.utf8.contains(where: { $0 <= Byte.space || $0 == 0x7F }) {
            bytes.append(contentsOf: s.utf8)
            return
        }
        for c in s.utf8 {
            if c <= Byte.space || c == 0x7F { appendReplacement() } else { bytes.append(c) }
        }
    }

    /// A positional word: quoted when needed.
    mutating func argument(_ s: String) {
        value(s, positional: true)
    }

    mutating func fields(_ fields: [(String, String)]) {
        for (key, value) in fields {
            space()
            word(key)
            bytes.append(Byte.equals)
            self.value(value, positional: false)
        }
    }

    /// ` :text`, TAB kept, other controls replaced.
    mutating func text(_ s: String) {
        space()
        bytes.append(Byte.colon)
        // A plain loop over the contiguous UTF-8 (every EV line, live and at replay, passes here;
        // the generic UTF8View.contains(where:) was a tenth of the replay profile).
        var s = s
        s.withUTF8 { utf8 in
            var clean = true
            for c in utf8 where (c < Byte.space && c != Byte.tab) || c == 0x7F {
                clean = false
                break
            }
            if clean {
                bytes.append(contentsOf: utf8)
                return
            }
            for c in utf8 {
                if (c < Byte.space && c != Byte.tab) || c == 0x7F { appendReplacement() } else { bytes.append(c) }
            }
        }
    }

    mutating func decimal(_ n: UInt64) {
        var divisor: UInt64 = 1
        while n / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") &+ UInt8((n / divisor) % 10))
            divisor /= 10
        }
    }

    private mutating func value(_ s: String, positional: Bool) {
        var needsQuotes = s.isEmpty || (positional && s.utf8.first == Byte.colon)
        var hasControl = false
        var hasNonASCII = false
        for c in s.utf8 {
            switch c {
            case Byte.space, Byte.tab, Byte.quote, Byte.backslash, Byte.equals: needsQuotes = true
            case 0..<Byte.space, 0x7F: hasControl = true
            case 0x80...: hasNonASCII = true
            default: break
            }
        }
        // A non-ASCII space (NBSP, ideographic space ...) would split the value for a client that
        // splits on white space, so it is quoted like an ASCII one.
        if hasNonASCII && !needsQuotes {
            needsQuotes = s.unicodeScalars.contains { $0.value >= 0x80 && $0.properties.isWhitespace }
        }
        if !needsQuotes && !hasControl {
            bytes.append(contentsOf: s.utf8)
            return
        }
        if needsQuotes { bytes.append(Byte.quote) }
        for c in s.utf8 {
            switch c {
            case Byte.quote, Byte.backslash:
                bytes.append(Byte.backslash)
                bytes.append(c)
            case Byte.tab:
                bytes.append(c)  // only reached inside quotes
            case 0..<Byte.space, 0x7F:
                appendReplacement()
            default:
                bytes.append(c)
            }
        }
        if needsQuotes { bytes.append(Byte.quote) }
    }

    /// U+FFFD REPLACEMENT CHARACTER.
    private mutating func appendReplacement() {
        bytes.append(0xEF)
        bytes.append(0xBF)
        bytes.append(0xBD)
    }
}
