// The protocol module comes with the client: ServerLineTokens, ServerLineField, ErrorCode and
// Timestamp are part of what a client works with.
@_exported import PartnerlineProtocol

/// One line from the server, typed by its first word (wire contract, "Server lines").
///
/// Built on `ServerLineTokens`, the tokenizer that reads what the server's writer writes, so
/// quoted values (`funder="National Lottery Community Fund"`) and text with ` :` in it come
/// out whole. Per contract 1.1 nothing here is fatal: a first word this library does not know,
/// or a known line too broken to type (an `EV` without a numeric seq), is `.unknown` and keeps
/// its tokens; keys a line does not need are kept in its `fields` and otherwise ignored.
public enum ServerMessage: Sendable, Hashable {
    /// `HELLO partnerline/1 <server-name> :<text>`, the greeting.
    case hello(Hello)
    /// `OK <VERB> [key=value ...] [:text]`, the final success reply to one command.
    case ok(Reply)
    /// `ERR <CODE> <VERB> :<message>`, the final failure reply to one command.
    case error(ErrorReply)
    /// `EV <room> <seq> <time> <actor> <KIND> [key=value ...] [:text]`, live or in HISTORY.
    case event(Event)
    /// `* <WORD> ...`, a data line of the reply being sent.
    case data(DataLine)
    /// `PING <token>`: answer `PONG <token>` (`PartnerlineConnection` does so by itself).
    case ping(token: String)
    /// `READ <room> <seq>` (1.1): another connection of this account moved its read marker.
    case read(ReadMarker)
    /// `NOTICE :<text>`, server information for humans.
    case notice(text: String)
    /// `BYE <CODE> :<text>`, sent just before the server closes the connection.
    case bye(Bye)
    /// A line whose first word is unknown (or too broken to type): ignore it, or look at it.
    case unknown(ServerLineTokens)

    /// Reads one line (without its CRLF).
    public init(_ line: String) {
        self.init(ServerLineTokens(line))
    }

    /// Reads one line's bytes (without its LF; a trailing CR is ignored).
    public init(bytes: UnsafeRawBufferPointer) {
        self.init(ServerLineTokens(bytes: bytes))
    }

    public init(_ line: ServerLineTokens) {
        let words = line.arguments
        func word(_ index: Int) -> String { index < words.count ? words[index] : "" }
        switch line.word {
        case "HELLO":
            self = .hello(Hello(protocolVersion: word(0), serverName: word(1), text: line.text ?? ""))
        case "OK":
            self = .ok(Reply(tag: line.tag, verb: word(0), fields: line.fields, text: line.text))
        case "ERR":
            self = .error(ErrorReply(tag: line.tag, code: word(0), verb: word(1), message: line.text ?? ""))
        case "EV":
            guard words.count >= 5, let seq = UInt64(words[1]) else {
                self = .unknown(line)
                return
            }
            self = .event(Event(tag: line.tag, room: words[0], seq: seq, time: words[2], actor: words[3],
                                kind: words[4], fields: line.fields, text: line.text))
        case "*":
            self = .data(DataLine(tag: line.tag, word: word(0), arguments: Array(words.dropFirst()),
                                  fields: line.fields, text: line.text))
        case "PING":
            self = .ping(token: word(0))
        case "READ":
            guard words.count >= 2, let seq = UInt64(words[1]) else {
                self = .unknown(line)
                return
            }
            self = .read(ReadMarker(room: words[0], seq: seq))
        case "NOTICE":
            self = .notice(text: line.text ?? words.joined(separator: " "))
        case "BYE":
            self = .bye(Bye(tag: line.tag, code: word(0), text: line.text ?? ""))
        default:
            self = .unknown(line)
        }
    }

    /// The `@tag` the line carries: the tag of the command whose reply it belongs to.
    public var tag: String? {
        switch self {
        case .ok(let reply): reply.tag
        case .error(let error): error.tag
        case .event(let event): event.tag
        case .data(let data): data.tag
        case .bye(let bye): bye.tag
        case .unknown(let tokens): tokens.tag
        case .hello, .ping, .read, .notice: nil
        }
    }

    /// True for `OK` and `ERR`: the line that ends a command's reply.
    public var isFinalReply: Bool {
        switch self {
        case .ok, .error: true
        default: false
        }
    }
}

/// Lookups shared by the lines that carry `key=value` options.
public protocol HasFields {
    var fields: [ServerLineField] { get }
}

extension HasFields {
    /// The value of the first option named `key` (nil if the line has none).
    public subscript(key: String) -> String? {
        fields.first { $0.key == key }?.value
    }

    /// The option `key` as a whole non-negative number.
    public func number(_ key: String) -> UInt64? {
        self[key].flatMap { UInt64($0) }
    }
}

/// The greeting: `HELLO partnerline/1 <server-name> :<text>`.
public struct Hello: Sendable, Hashable {
    /// `partnerline/1` for every 1.x server.
    public var protocolVersion: String
    public var serverName: String
    public var text: String

    public init(protocolVersion: String, serverName: String, text: String) {
        self.protocolVersion = protocolVersion
        self.serverName = serverName
        self.text = text
    }
}

/// `OK <VERB> [key=value ...] [:text]`.
public struct Reply: Sendable, Hashable, HasFields {
    public var tag: String?
    /// The verb this answers, upper-case (`LOGIN`, `SAY`, ...).
    public var verb: String
    public var fields: [ServerLineField]
    public var text: String?

    public init(tag: String? = nil, verb: String, fields: [ServerLineField] = [], text: String? = nil) {
        self.tag = tag
        self.verb = verb
        self.fields = fields
        self.text = text
    }
}

/// `ERR <CODE> <VERB> :<message>`; also what `CommandReply.checked()` throws.
public struct ErrorReply: Error, Sendable, Hashable, CustomStringConvertible {
    public var tag: String?
    /// A stable upper-case word (`NOT_JOINED`, `FORBIDDEN`, ...); new codes may appear.
    public var code: String
    /// The verb that failed, upper-case, or `*` when the server could not read one.
    public var verb: String
    /// For humans.
    public var message: String

    public init(tag: String? = nil, code: String, verb: String, message: String) {
        self.tag = tag
        self.code = code
        self.verb = verb
        self.message = message
    }

    /// The code as a known `ErrorCode`, nil for a code this library does not know (treat it
    /// as a failure of the command, as the contract says).
    public var errorCode: ErrorCode? { ErrorCode(rawValue: code) }

    public var description: String { "ERR \(code) \(verb): \(message)" }
}

/// `EV <room> <seq> <time> <actor> <KIND> [key=value ...] [:text]`: one stored event of a room,
/// identical live and in HISTORY.
public struct Event: Sendable, Hashable, HasFields {
    /// Set when the event came inside a tagged reply (HISTORY), nil for a live event.
    public var tag: String?
    public var room: String
    /// Per room, from 1, strictly increasing, no gaps among stored events.
    public var seq: UInt64
    /// RFC 3339 UTC with milliseconds, as the server wrote it.
    public var time: String
    /// The account that caused it, or `*server`.
    public var actor: String
    /// `SAY`, `NEED`, `OFFER`, `FUNDING`, `TOPIC`, `MUTE`, ... (new kinds may appear).
    public var kind: String
    /// The options in the order the server wrote them.
    public var fields: [ServerLineField]
    public var text: String?

    public init(tag: String? = nil, room: String, seq: UInt64, time: String, actor: String, kind: String,
                fields: [ServerLineField] = [], text: String? = nil) {
        self.tag = tag
        self.room = room
        self.seq = seq
        self.time = time
        self.actor = actor
        self.kind = kind
        self.fields = fields
        self.text = text
    }

    /// `time` as milliseconds since 1970 (nil if the server wrote something unreadable).
    public var timeMillis: Int64? { Timestamp.parse(time) }
}

/// `* <WORD> <arguments...> [key=value ...] [:text]`, one data line of a reply.
public struct DataLine: Sendable, Hashable, HasFields {
    public var tag: String?
    /// What the line lists: `ROOM`, `MEMBER`, `ITEM`, `HELP`, `JOINED`, ...
    public var word: String
    /// The positional words after `word` (e.g. a room name, an item id).
    public var arguments: [String]
    public var fields: [ServerLineField]
    public var text: String?

    public init(tag: String? = nil, word: String, arguments: [String] = [], fields: [ServerLineField] = [],
                text: String? = nil) {
        self.tag = tag
        self.word = word
        self.arguments = arguments
        self.fields = fields
        self.text = text
    }
}

/// `READ <room> <seq>`: the account's read marker in `room` is now `seq`.
public struct ReadMarker: Sendable, Hashable {
    public var room: String
    public var seq: UInt64

    public init(room: String, seq: UInt64) {
        self.room = room
        self.seq = seq
    }
}

/// `BYE <CODE> :<text>`: the server is about to close the connection (`QUIT`, `SHUTDOWN`, ...).
public struct Bye: Sendable, Hashable {
    public var tag: String?
    public var code: String
    public var text: String

    public init(tag: String? = nil, code: String, text: String) {
        self.tag = tag
        self.code = code
        self.text = text
    }
}
