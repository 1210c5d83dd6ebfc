/// One client command, parsed against its verb's syntax.
public struct ParsedCommand: Sendable, Equatable {
    /// The reply tag (`@tag`), if the client gave one.
    public var tag: String?
    /// The verb, upper-cased.
    public var verb: String
    /// Positional arguments in order: the required ones, then any optional ones given.
    public var arguments: [String]
    /// `key=value` options, values unquoted.
    public var options: [String: String]
    /// The free text with one leading `:` stripped and trailing spaces/tabs removed;
    /// nil if absent or empty.
    public var text: String?

    public init(
        tag: String? = nil, verb: String, arguments: [String] = [],
        options: [String: String] = [:], text: String? = nil
    ) {
        self.tag = tag
        self.verb = verb
        self.arguments = arguments
        self.options = options
        self.text = text
    }
}

/// Why a line could not be parsed; the server answers `ERR <code> <verb> :<message>`.
public struct ParseFailure: Error, Sendable, Equatable {
    public var code: ErrorCode
    /// The verb upper-cased, or `"*"` when it could not be read.
    public var verb: String
    /// The client's tag, when the tag itself was readable and valid.
    public var tag: String?
    /// For humans, e.g. `"usage: SAY <room> <text>"`.
    public var message: String

    public init(code: ErrorCode, verb: String, tag: String?, message: String) {
        self.code = code
        self.verb = verb
        self.tag = tag
        self.message = message
    }
}

/// Parses client lines: `[@<tag> ]<VERB> <positional args> [key=value ...] [text]`
/// (spec "Client lines").
///
/// - The line must be valid UTF-8 without control characters other than TAB
///   (`BAD_ENCODING`).
/// - Tokens are separated by one or more spaces or tabs; leading blanks are ignored.
/// - Positional arguments are taken by count, so a password may hold `=` or `:`.
///   An optional positional is not taken if it looks like `key=value` (for a verb
///   with options) or starts with `:` (for a verb that takes text).
/// - Options are parsed only for verbs that declare some; for other verbs
///   everything after the positionals is text.
/// - Text is the rest of the line after the separating blanks, with one leading
///   `:` stripped and trailing blanks removed; internal spacing is kept.
public struct CommandParser: Sendable {
    public let grammar: Grammar

    public init(grammar: Grammar = .v1) {
        self.grammar = grammar
    }

    public func parse(_ line: [UInt8]) -> Result<ParsedCommand, ParseFailure> {
        line.withUnsafeBufferPointer { parse(bytes: $0) }
    }

    public func parse(bytes b: UnsafeBufferPointer<UInt8>) -> Result<ParsedCommand, ParseFailure> {
        if let problem = LineEncoding.firstProblem(b) {
            return .failure(encodingFailure(b, problem))
        }
        var cursor = Cursor(b)

        // Tag and verb.
        var tag: String?
        guard var verbToken = cursor.nextToken() else {
            return .failure(ParseFailure(
                code: .badSyntax, verb: "*", tag: nil, message: "empty command; type HELP for the commands"))
        }
        if b[verbToken.lowerBound] == Byte.at {
            let tagBytes = b[(verbToken.lowerBound + 1)..<verbToken.upperBound]
            guard Names.isValidTag(bytes: tagBytes) else {
                let verb = cursor.nextToken().map { displayVerb(b, $0) } ?? "*"
                return .failure(ParseFailure(
                    code: .badSyntax, verb: verb, tag: nil,
                    message: "bad tag: after '@' use 1-32 of A-Z a-z 0-9 . _ -"))
            }
            tag = string(b, tagBytes.indices)
            guard let next = cursor.nextToken() else {
                return .failure(ParseFailure(
                    code: .badSyntax, verb: "*", tag: tag, message: "missing command after the tag"))
            }
            verbToken = next
        }
        let verbWord = ASCII.uppercased(string(b, verbToken))
        guard let syntax = grammar.syntax(for: verbWord) else {
            let shown = displayVerb(b, verbToken)
            let message = shown == "*"
                ? "unknown command; type HELP for the list"
                : "unknown command '\(shown)'; type HELP for the list"
            return .failure(ParseFailure(code: .unknownCommand, verb: shown, tag: tag, message: message))
        }
        let verb = syntax.verb
        func failure(_ message: String) -> Result<ParsedCommand, ParseFailure> {
            .failure(ParseFailure(code: .badSyntax, verb: verb, tag: tag, message: message))
        }
        let usage = "usage: " + syntax.usage
        let takesOptions = !syntax.options.isEmpty

        // Positionals, by count.
        var arguments: [String] = []
        arguments.reserveCapacity(syntax.required.count + syntax.optional.count)
        for _ in syntax.required {
            guard let token = cursor.nextToken() else { return failure(usage) }
            arguments.append(string(b, token))
        }
        for _ in syntax.optional {
            guard let start = cursor.peekTokenStart() else { break }
            if syntax.text != .none && b[start] == Byte.colon { break }
            if takesOptions && optionKeyEnd(b, from: start) != nil { break }
            arguments.append(string(b, cursor.nextToken()!))
        }

        // Options.
        var options: [String: String] = [:]
        if takesOptions {
            while let start = cursor.peekTokenStart(), let equals = optionKeyEnd(b, from: start) {
                let key = string(b, start..<equals)
                guard syntax.options.contains(key) else {
                    let hint = syntax.text == .none ? "" : "; start the text with ':' if it is text"
                    return failure("unknown option '\(key)' for \(verb)\(hint)")
                }
                guard options[key] == nil else {
                    return failure("duplicate option '\(key)'")
                }
                switch readValue(b, from: equals + 1) {
                case .success(let (value, end)):
                    options[key] = value
                    cursor.position = end
                case .failure(let problem):
                    return failure(problem.message(key: key))
                }
            }
            for key in syntax.requiredOptions.sorted() where options[key] == nil {
                return failure("missing option '\(key)'; \(usage)")
            }
        }

        // Text.
        var text: String?
        if let start = cursor.peekTokenStart() {
            var from = start
            if b[from] == Byte.colon { from += 1 }
            var end = b.count
            while end > from, Byte.isBlank(b[end - 1]) { end -= 1 }
            if end > from { text = string(b, from..<end) }
        }
        switch syntax.text {
        case .none where text != nil:
            return failure("unexpected text after the arguments; \(usage)")
        case .required where text == nil:
            return failure(usage)
        default:
            break
        }
        return .success(ParsedCommand(tag: tag, verb: verb, arguments: arguments, options: options, text: text))
    }

    // MARK: - Pieces

    private enum ValueProblem: Error {
        case unterminated, badEscape, noSpaceAfterQuote

        func message(key: String) -> String {
            switch self {
            case .unterminated: "unterminated quoted value for '\(key)'"
            case .badEscape: "bad escape in the value for '\(key)': only \\\" and \\\\ are allowed"
            case .noSpaceAfterQuote: "expected a space after the closing quote of '\(key)'"
            }
        }
    }

    /// Reads an option value starting at `from` (just after `=`): a token up to the
    /// next blank, or a double-quoted string with `\"` and `\\` escapes.
    /// Returns the value and the index just after it.
    private func readValue(
        _ b: UnsafeBufferPointer<UInt8>, from: Int
    ) -> Result<(String, Int), ValueProblem> {
        var i = from
        let n = b.count
        guard i < n, b[i] == Byte.quote else {
            while i < n, !Byte.isBlank(b[i]) { i += 1 }
            return .success((string(b, from..<i), i))
        }
        i += 1
        var value: [UInt8] = []
        while i < n {
            let c = b[i]
            if c == Byte.quote {
                i += 1
                guard i == n || Byte.isBlank(b[i]) else { return .failure(.noSpaceAfterQuote) }
                return .success((String(decoding: value, as: UTF8.self), i))
            }
            if c == Byte.backslash {
                guard i + 1 < n else { return .failure(.unterminated) }
                let escaped = b[i + 1]
                guard escaped == Byte.quote || escaped == Byte.backslash else { return .failure(.badEscape) }
                value.append(escaped)
                i += 2
            } else {
                value.append(c)
                i += 1
            }
        }
        return .failure(.unterminated)
    }

    /// If a `key=` with key `[a-z_]+` starts at `from`, the index of its `=`.
    private func optionKeyEnd(_ b: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        var i = from
        while i < b.count {
            let c = b[i]
            if (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || c == UInt8(ascii: "_") {
                i += 1
                continue
            }
            return c == Byte.equals && i > from ? i : nil
        }
        return nil
    }

    /// The verb as echoed in an ERR line: upper-cased if it is a plain word, else `*`.
    private func displayVerb(_ b: UnsafeBufferPointer<UInt8>, _ token: Range<Int>) -> String {
        let bytes = b[token]
        guard Names.isValidTag(bytes: bytes) else { return "*" }
        return String(decoding: bytes.map(ASCII.upper), as: UTF8.self)
    }

    /// BAD_ENCODING, keeping the tag and verb when they were readable before the bad byte.
    private func encodingFailure(_ b: UnsafeBufferPointer<UInt8>, _ problem: LineEncoding.Problem) -> ParseFailure {
        var cursor = Cursor(b, end: problem.index)
        var tag: String?
        var verb = "*"
        // A token is readable only if a blank ends it before the bad byte.
        func completeToken() -> Range<Int>? {
            guard let token = cursor.nextToken(), token.upperBound < problem.index else { return nil }
            return token
        }
        if var token = completeToken() {
            var haveVerb = true
            if b[token.lowerBound] == Byte.at {
                let tagBytes = b[(token.lowerBound + 1)..<token.upperBound]
                if Names.isValidTag(bytes: tagBytes), let next = completeToken() {
                    tag = string(b, tagBytes.indices)
                    token = next
                } else {
                    if Names.isValidTag(bytes: tagBytes) { tag = string(b, tagBytes.indices) }
                    haveVerb = false
                }
            }
            if haveVerb { verb = displayVerb(b, token) }
        }
        let message = switch problem.kind {
        case .invalidUTF8: "the line is not valid UTF-8"
        case .controlCharacter: "the line holds a control character; only TAB is allowed"
        }
        return ParseFailure(code: .badEncoding, verb: verb, tag: tag, message: message)
    }

    private func string(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: b[range]), as: UTF8.self)
    }
}

/// Walks blank-separated tokens of a line.
private struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    let end: Int
    var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>, end: Int? = nil) {
        self.bytes = bytes
        self.end = end ?? bytes.count
    }

    /// Skips blanks; the start of the next token, or nil at the end.
    mutating func peekTokenStart() -> Int? {
        while position < end, Byte.isBlank(bytes[position]) { position += 1 }
        return position < end ? position : nil
    }

    mutating func nextToken() -> Range<Int>? {
        guard let start = peekTokenStart() else { return nil }
        while position < end, !Byte.isBlank(bytes[position]) { position += 1 }
        return start..<position
    }
}

enum Byte {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let equals = UInt8(ascii: "=")
    static let colon = UInt8(ascii: ":")
    static let at = UInt8(ascii: "@")

    @inline(__always)
    static func isBlank(_ c: UInt8) -> Bool { c == space || c == tab }
}

/// Checks that a line is UTF-8 (RFC 3629: no overlongs, surrogates or values
/// above U+10FFFF) without control characters (C0 other than TAB, DEL, C1).
enum LineEncoding {
    enum Kind: Sendable { case invalidUTF8, controlCharacter }

    struct Problem: Sendable {
        var index: Int
        var kind: Kind
    }

    static func firstProblem(_ b: UnsafeBufferPointer<UInt8>) -> Problem? {
        let n = b.count
        var i = 0
        while i < n {
            let c = b[i]
            if c < 0x80 {
                if (c < 0x20 && c != Byte.tab) || c == 0x7F { return Problem(index: i, kind: .controlCharacter) }
                i += 1
                continue
            }
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            let continuation: Int
            switch c {
            case 0xC2...0xDF: continuation = 1
            case 0xE0: continuation = 2; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: continuation = 2
            case 0xED: continuation = 2; upper = 0x9F
            case 0xF0: continuation = 3; lower = 0x90
            case 0xF1...0xF3: continuation = 3
            case 0xF4: continuation = 3; upper = 0x8F
            default: return Problem(index: i, kind: .invalidUTF8)
            }
            guard i + continuation < n else { return Problem(index: i, kind: .invalidUTF8) }
            let second = b[i + 1]
            guard second >= lower, second <= upper else { return Problem(index: i, kind: .invalidUTF8) }
            var k = 2
            while k <= continuation {
                guard b[i + k] & 0xC0 == 0x80 else { return Problem(index: i, kind: .invalidUTF8) }
                k += 1
            }
            // U+0080...U+009F are the C1 control characters.
            if c == 0xC2, second <= 0x9F { return Problem(index: i, kind: .controlCharacter) }
            i += continuation + 1
        }
        return nil
    }
}
