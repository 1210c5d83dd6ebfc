/// The properties the line framer and the command parser must keep for ANY input, checked on one
/// input. The libFuzzer target (Tests/Fuzz) calls this for every input it makes, and the protocol
/// tests replay the seed corpus and a batch of random inputs through it.
///
/// The first 8 bytes of an input seed the choice of split points and of the line limit; the
/// rest is the byte stream a client sends. Properties:
/// 1. Framing does not depend on how the stream is split: the stream fed in random pieces gives
///    the same lines as the stream fed at once.
/// 2. The framer never holds more than `maxLineLength + 1` bytes.
/// 3. Every framed line is non-empty, at most `maxLineLength` bytes, without LF.
/// 4. Parsing is deterministic. A success names a verb of the grammar with its required
///    arguments and options, only declared option keys, and a valid tag; a failure is
///    BAD_SYNTAX, UNKNOWN_COMMAND or BAD_ENCODING with a message.
/// 5. The reply the server would send (OK echoing the tag, verb, options and text, or ERR echoing
///    tag and verb) is exactly one line ending in CRLF: client input can never break the framing
///    of a server line.
public enum FramingSelfCheck {
    /// nil when every property holds, else what broke.
    public static func check(_ input: [UInt8], parser: CommandParser = CommandParser()) -> String? {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for byte in input.prefix(8) { seed = (seed << 8 | seed >> 56) ^ UInt64(byte) }
        var random = SplitMix64(seed: seed)
        let stream = Array(input.dropFirst(min(8, input.count)))
        // Small limits reach the too-long paths with small inputs; 4096 is the default.
        let limits = [1, 2, 16, 64, 300, 4096]
        let maxLineLength = limits[Int(random.next() % UInt64(limits.count))]

        var whole = LineFramer(maxLineLength: maxLineLength)
        var expected: [FramedLine] = []
        whole.feed(stream) { expected.append($0) }

        var pieces = LineFramer(maxLineLength: maxLineLength)
        var got: [FramedLine] = []
        var offset = 0
        while offset < stream.count {
            let length = 1 + Int(random.next() % UInt64(min(stream.count - offset, random.next() % 2 == 0 ? 8 : 1024)))
            pieces.feed(Array(stream[offset..<(offset + length)])) { got.append($0) }
            offset += length
            if pieces.bufferedByteCount > maxLineLength + 1 {
                return "framer holds \(pieces.bufferedByteCount) bytes with a limit of \(maxLineLength)"
            }
        }
        guard got == expected else {
            return "split feeding gave \(got.count) lines, whole feeding \(expected.count) (limit \(maxLineLength))"
        }

        for framed in got {
            guard case .line(let line) = framed else { continue }
            if line.isEmpty || line.count > maxLineLength || line.contains(0x0A) {
                return "framed a line of \(line.count) bytes (limit \(maxLineLength)) or with LF"
            }
            if let problem = checkParse(line, parser) { return problem }
        }
        return nil
    }

    private static func checkParse(_ line: [UInt8], _ parser: CommandParser) -> String? {
        let first = parser.parse(line)
        guard first == parser.parse(line) else { return "parsing the same line twice gave different results" }
        switch first {
        case .success(let command):
            guard let syntax = parser.grammar.syntax(for: command.verb), syntax.verb == command.verb else {
                return "parsed verb \(command.verb) is not in the grammar"
            }
            let count = command.arguments.count
            guard count >= syntax.required.count, count <= syntax.required.count + syntax.optional.count else {
                return "\(command.verb) parsed with \(count) arguments"
            }
            guard Set(command.options.keys).isSubset(of: syntax.options),
                  syntax.requiredOptions.isSubset(of: Set(command.options.keys)) else {
                return "\(command.verb) parsed with options \(command.options.keys.sorted())"
            }
            if let tag = command.tag, !Names.isValidTag(tag) { return "accepted tag '\(tag)'" }
            if syntax.text == .none && command.text != nil { return "\(command.verb) parsed with text" }
            if syntax.text == .required && command.text == nil { return "\(command.verb) parsed without its text" }
            let reply = ServerLine.ok(tag: command.tag, verb: command.verb,
                                      fields: command.options.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                                      text: command.text)
            return checkOneLine(reply, "OK echoing \(command.verb)")
        case .failure(let failure):
            guard [ErrorCode.badSyntax, .unknownCommand, .badEncoding].contains(failure.code), !failure.message.isEmpty else {
                return "parse failure \(failure.code) '\(failure.message)'"
            }
            return checkOneLine(ServerLine.err(failure), "ERR for \(failure.verb)")
        }
    }

    private static func checkOneLine(_ bytes: [UInt8], _ what: String) -> String? {
        guard bytes.count >= 2, bytes[bytes.count - 2] == 0x0D, bytes[bytes.count - 1] == 0x0A,
              !bytes.dropLast(2).contains(where: { $0 == 0x0A || $0 == 0x0D }) else {
            return "\(what) is not exactly one CRLF-terminated line"
        }
        return nil
    }
}

/// A small deterministic generator (SplitMix64), so a fuzz input always splits the same way.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
