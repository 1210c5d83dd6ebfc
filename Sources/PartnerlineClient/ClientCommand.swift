/// One client command, encoded the way the server's command parser reads it (wire contract,
/// "Client lines"): `[@tag ]VERB <arguments> [key=value ...] [:text]` and CRLF.
///
/// Encoding never lets a value change the shape of the line:
/// - option values are quoted by the same rule as the server's writer (empty, a space or TAB or
///   a non-ASCII space, `"`, `\`, `=`), with `\"` and `\\` escapes;
/// - text is always sent after ` :`, so text that looks like `key=value` stays text;
/// - an argument must be one token (no space or TAB), since the server takes positional
///   arguments by count and quotes are not part of them;
/// - a control character (CR, LF, ...; only TAB is allowed, and not in an argument) anywhere is
///   refused, so no value can end the line early and inject a second command.
/// A refusal is a `CommandEncodingError` naming the part; nothing is sent.
public struct ClientCommand: Sendable, Hashable {
    /// The verb, sent as given (the server reads it case-insensitively).
    public var verb: String
    /// Positional arguments: room names, item ids, accounts, passwords.
    public var arguments: [String]
    /// `key=value` options in order (key `[a-z_]+`).
    public var options: [ServerLineField]
    /// Free text, the rest of the line; nil for none.
    public var text: String?

    public init(_ verb: String, _ arguments: [String] = [], options: [ServerLineField] = [], text: String? = nil) {
        self.verb = verb
        self.arguments = arguments
        self.options = options
        self.text = text
    }

    /// `options` from pairs; a nil value leaves the option out (handy for optional ones).
    public init(_ verb: String, _ arguments: [String] = [], _ options: KeyValuePairs<String, String?>, text: String? = nil) {
        self.init(verb, arguments, options: options.compactMap { key, value in value.map { ServerLineField(key, $0) } },
                  text: text)
    }

    /// The line's bytes, CRLF included, with `@tag ` in front when `tag` is given.
    public func encoded(tag: String? = nil) throws(CommandEncodingError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + (text?.utf8.count ?? 0))
        if let tag {
            guard Names.isValidTag(tag) else { throw CommandEncodingError(part: "tag", value: tag, problem: "use 1-32 of A-Z a-z 0-9 . _ -") }
            out.append(UInt8(ascii: "@"))
            out.append(contentsOf: tag.utf8)
            out.append(Self.space)
        }
        guard !verb.isEmpty, verb.utf8.count <= 32,
              verb.utf8.allSatisfy({ ($0 | 0x20) >= UInt8(ascii: "a") && ($0 | 0x20) <= UInt8(ascii: "z") }) else {
            throw CommandEncodingError(part: "verb", value: verb, problem: "a verb is 1-32 letters")
        }
        out.append(contentsOf: verb.utf8)
        for argument in arguments {
            guard !argument.isEmpty else {
                throw CommandEncodingError(part: "argument", value: argument, problem: "an argument cannot be empty")
            }
            guard !argument.utf8.contains(where: { $0 == Self.space || $0 == Self.tab }) else {
                throw CommandEncodingError(part: "argument", value: argument, problem: "an argument cannot hold a space or TAB")
            }
            try Self.refuseControls(argument, part: "argument")
            out.append(Self.space)
            out.append(contentsOf: argument.utf8)
        }
        for option in options {
            guard !option.key.isEmpty, option.key.utf8.allSatisfy({ ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || $0 == UInt8(ascii: "_") }) else {
                throw CommandEncodingError(part: "option key", value: option.key, problem: "a key is 1 or more of a-z and _")
            }
            try Self.refuseControls(option.value, part: "option \(option.key)", allowTab: true)
            out.append(Self.space)
            out.append(contentsOf: option.key.utf8)
            out.append(UInt8(ascii: "="))
            Self.appendValue(option.value, to: &out)
        }
        if let text {
            try Self.refuseControls(text, part: "text", allowTab: true)
            out.append(Self.space)
            out.append(UInt8(ascii: ":"))
            out.append(contentsOf: text.utf8)
        }
        out.append(13)
        out.append(10)
        return out
    }

    /// The line as text without CRLF (for logs and tests); nil if it cannot be encoded.
    public var line: String? {
        guard let bytes = try? encoded() else { return nil }
        return String(decoding: bytes.dropLast(2), as: UTF8.self)
    }

    // MARK: Quoting

    private static let space = UInt8(ascii: " ")
    private static let tab: UInt8 = 9

    /// True if the server's writer would quote `value`, and so does this encoder.
    public static func needsQuotes(_ value: String) -> Bool {
        if value.isEmpty { return true }
        var nonASCII = false
        for c in value.utf8 {
            switch c {
            case space, tab, UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "="): return true
            case 0x80...: nonASCII = true
            default: break
            }
        }
        return nonASCII && value.unicodeScalars.contains { $0.value >= 0x80 && $0.properties.isWhitespace }
    }

    static func appendValue(_ value: String, to out: inout [UInt8]) {
        guard needsQuotes(value) else {
            out.append(contentsOf: value.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for c in value.utf8 {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
    }

    /// C0 controls (TAB only where allowed), DEL and the C1 controls: the server answers
    /// BAD_ENCODING for them, and CR/LF would end the line.
    private static func refuseControls(_ value: String, part: String, allowTab: Bool = false) throws(CommandEncodingError) {
        for scalar in value.unicodeScalars {
            let v = scalar.value
            if v < 0x20 && !(allowTab && v == 9) || (v >= 0x7F && v <= 0x9F) {
                throw CommandEncodingError(part: part, value: value,
                                           problem: "control character U+\(String(v, radix: 16, uppercase: true)) is not allowed")
            }
        }
    }
}

/// Why a command could not be encoded (nothing was sent).
public struct CommandEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which part: `tag`, `verb`, `argument`, `option <key>`, `text`, `line`.
    public var part: String
    public var value: String
    public var problem: String

    public init(part: String, value: String, problem: String) {
        self.part = part
        self.value = value
        self.problem = problem
    }

    public var description: String { "cannot encode \(part) \(value.debugDescription): \(problem)" }
}

// MARK: - The commands, by name

extension ClientCommand {
    public static func register(_ account: String, password: String, invite: String? = nil, org: String? = nil) -> ClientCommand {
        ClientCommand("REGISTER", [account, password], ["invite": invite, "org": org])
    }
    /// `LOGIN <account> <password>`; with a client certificate the password is `*`.
    public static func login(_ account: String, password: String) -> ClientCommand { ClientCommand("LOGIN", [account, password]) }
    public static func join(_ room: String) -> ClientCommand { ClientCommand("JOIN", [room]) }
    public static func part(_ room: String) -> ClientCommand { ClientCommand("PART", [room]) }
    public static func say(_ room: String, _ text: String) -> ClientCommand { ClientCommand("SAY", [room], text: text) }
    public static func who(_ room: String) -> ClientCommand { ClientCommand("WHO", [room]) }
    public static func rooms(_ cluster: String? = nil) -> ClientCommand { ClientCommand("ROOMS", cluster.map { [$0] } ?? []) }
    public static var clusters: ClientCommand { ClientCommand("CLUSTERS") }
    public static func help(_ verb: String? = nil) -> ClientCommand { ClientCommand("HELP", verb.map { [$0] } ?? []) }
    public static func ping(_ token: String? = nil) -> ClientCommand { ClientCommand("PING", token.map { [$0] } ?? []) }
    public static func pong(_ token: String) -> ClientCommand { ClientCommand("PONG", [token]) }
    public static func quit(_ text: String? = nil) -> ClientCommand { ClientCommand("QUIT", text: text) }
    /// `MARK <room> <seq>` (1.1): moves the account's read marker forward.
    public static func mark(_ room: String, _ seq: UInt64) -> ClientCommand { ClientCommand("MARK", [room, String(seq)]) }
    public static func show(_ id: String) -> ClientCommand { ClientCommand("SHOW", [id]) }
    /// `LIST <room> needs/offers/proposals/funding [all]`.
    public static func list(_ room: String, _ what: String, all: Bool = false) -> ClientCommand {
        ClientCommand("LIST", [room, what] + (all ? ["all"] : []))
    }

    /// `HISTORY <room> [after=] [before=] [limit=]` (1.1: the OK says `more=yes/no`).
    public static func history(_ room: String, after: UInt64? = nil, before: UInt64? = nil, limit: Int? = nil) -> ClientCommand {
        ClientCommand("HISTORY", [room], ["after": after.map(String.init), "before": before.map(String.init),
                                    "limit": limit.map(String.init)])
    }

    /// `FUNDING <room> funder=".." [amount=] [deadline=] [url=] [tags=] [ref=] <title>` (bots and
    /// facilitators). `ref` (1.1) names the opportunity at its source, so a repeat posts nothing.
    public static func funding(_ room: String, funder: String, title: String, ref: String? = nil, amount: String? = nil,
                               deadline: String? = nil, url: String? = nil, tags: [String] = []) -> ClientCommand {
        ClientCommand("FUNDING", [room], ["funder": funder, "amount": amount, "deadline": deadline, "url": url,
                                    "tags": tags.isEmpty ? nil : tags.joined(separator: ","), "ref": ref],
                text: title)
    }

    /// `STATUS <id> <status> [note]`.
    public static func status(_ id: String, _ status: String, note: String? = nil) -> ClientCommand {
        ClientCommand("STATUS", [id, status], text: note)
    }
}
