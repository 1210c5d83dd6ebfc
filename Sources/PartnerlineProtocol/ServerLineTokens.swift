/// One token of a server line between its first word and its free text.
public enum ServerLineToken: Sendable, Hashable {
    /// A positional word (a room, a seq, an account, an id), bare or double-quoted, unquoted here.
    case word(String)
    /// A `key=value` option (key `[a-z_]+`), the value unquoted.
    case option(key: String, value: String)
}

/// A `key=value` option of a server line, in the order the server wrote it.
public struct ServerLineField: Sendable, Hashable {
    public var key: String
    public var value: String

    public init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A server line cut into its parts by the grammar of the wire contract ("Parsing a server
/// line", 1.1), the reading side of `ServerLine`'s writer:
///
/// ```
/// [@<tag> ]<first word> <tokens...>[ :<text>]
/// ```
///
/// - Tokens are separated by spaces (the server writes one; more are tolerated).
/// - A token is bare (no space, no `"`), or a double-quoted word, or an option `key=value`
///   (key `[a-z_]+`) whose value is bare or double-quoted. Inside quotes `\"` is a quote and
///   `\\` a backslash.
/// - ` :` outside quotes starts the free text, which runs to the end of the line (spaces,
///   quotes and ` :` inside it are kept as they are).
///
/// The tokenizer never fails: a line that breaks the grammar (an unterminated quote, an unknown
/// escape) is read as far as it makes sense, so a client can keep going (contract 1.1: unknown
/// first words and keys are ignored, never fatal). Line terminators must be stripped already
/// (a trailing CR is dropped for convenience).
public struct ServerLineTokens: Sendable, Hashable {
    /// The reply tag after `@`, if the line has one.
    public var tag: String?
    /// What the line is: `OK`, `ERR`, `EV`, `*`, `PING`, `NOTICE`, `BYE`, `HELLO`, `READ`, or a
    /// word a newer server added. Empty for an empty line.
    public var word: String
    /// The tokens after the first word and before the text, in order.
    public var tokens: [ServerLineToken]
    /// The free text after ` :`, nil if the line has none ("" if it ends in ` :`).
    public var text: String?

    public init(tag: String? = nil, word: String, tokens: [ServerLineToken] = [], text: String? = nil) {
        self.tag = tag
        self.word = word
        self.tokens = tokens
        self.text = text
    }

    /// Tokenizes one line (without its CRLF).
    public init(_ line: String) {
        var line = line
        self = line.withUTF8 { Self(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Tokenizes one line's bytes (without its LF; a trailing CR is ignored). Invalid UTF-8 is
    /// decoded with replacement characters.
    public init(bytes: UnsafeRawBufferPointer) {
        var reader = TokenReader(bytes)
        self = reader.read()
    }

    /// The positional words, in order.
    public var arguments: [String] {
        tokens.compactMap { if case .word(let word) = $0 { word } else { nil } }
    }

    /// The options, in order (a key may in principle repeat; `self[key]` gives the first).
    public var fields: [ServerLineField] {
        tokens.compactMap { if case .option(let key, let value) = $0 { ServerLineField(key, value) } else { nil } }
    }

    /// The value of the first option named `key`.
    public subscript(key: String) -> String? {
        for case .option(let k, let value) in tokens where k == key { return value }
        return nil
    }
}

/// Walks one line's bytes; see `ServerLineTokens` for the grammar.
private struct TokenReader {
    let b: UnsafeRawBufferPointer
    let end: Int
    var i = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        b = bytes
        var end = bytes.count
        if end > 0, bytes[end - 1] == Byte.cr { end -= 1 }
        self.end = end
    }

    mutating func read() -> ServerLineTokens {
        var tag: String?
        if i < end, b[i] == Byte.at {
            let start = i + 1
            skipToSpace()
            tag = string(start..<i)
        }
        skipSpaces()
        // The first word is taken as it is (it is a fixed word of the protocol, never quoted).
        let wordStart = i
        skipToSpace()
        var line = ServerLineTokens(tag: tag, word: string(wordStart..<i))
        while true {
            skipSpaces()
            guard i < end else { break }
            switch b[i] {
            case Byte.colon:
                line.text = string((i + 1)..<end)
                return line
            case Byte.quote:
                line.tokens.append(.word(quoted()))
            default:
                if let equals = optionKeyEnd() {
                    let key = string(i..<equals)
                    i = equals + 1
                    let value: String
                    if i < end, b[i] == Byte.quote {
                        value = quoted()
                    } else {
                        let start = i
                        skipToSpace()
                        value = string(start..<i)
                    }
                    line.tokens.append(.option(key: key, value: value))
                } else {
                    let start = i
                    skipToSpace()
                    line.tokens.append(.word(string(start..<i)))
                }
            }
        }
        return line
    }

    /// A double-quoted string starting at `i` (on the opening quote); leaves `i` after the
    /// closing quote. Unterminated: runs to the end of the line. An escape other than `\"` and
    /// `\\` keeps both characters (the server never writes one).
    private mutating func quoted() -> String {
        i += 1
        var value: [UInt8] = []
        while i < end {
            let c = b[i]
            if c == Byte.quote {
                i += 1
                break
            }
            if c == Byte.backslash, i + 1 < end, b[i + 1] == Byte.quote || b[i + 1] == Byte.backslash {
                value.append(b[i + 1])
                i += 2
                continue
            }
            value.append(c)
            i += 1
        }
        return String(decoding: value, as: UTF8.self)
    }

    /// If a `key=` with key `[a-z_]+` starts at `i`, the index of its `=`.
    private func optionKeyEnd() -> Int? {
        var j = i
        while j < end {
            let c = b[j]
            if (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || c == UInt8(ascii: "_") {
                j += 1
                continue
            }
            return c == Byte.equals && j > i ? j : nil
        }
        return nil
    }

    private mutating func skipSpaces() {
        while i < end, b[i] == Byte.space { i += 1 }
    }

    private mutating func skipToSpace() {
        while i < end, b[i] != Byte.space { i += 1 }
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: b[range]), as: UTF8.self)
    }
}
