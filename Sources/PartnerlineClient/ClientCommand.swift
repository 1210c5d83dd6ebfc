/// Client lines, encoded the way the wire contract reads them: `[@tag ]VERB args [key=value] [:text]`
/// ending in CRLF. Arguments must already be valid tokens (names, passwords without spaces);
/// free text is sent after ` :` so it may start with anything.
public enum ClientCommand {
    public static func line(_ verb: String, _ arguments: [String] = [], text: String? = nil, tag: String? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + verb.utf8.count + (text?.utf8.count ?? 0))
        if let tag {
            out.append(UInt8(ascii: "@"))
            out.append(contentsOf: tag.utf8)
            out.append(32)
        }
        out.append(contentsOf: verb.utf8)
        for argument in arguments {
            out.append(32)
            out.append(contentsOf: argument.utf8)
        }
        if let text {
            out.append(contentsOf: " :".utf8)
            out.append(contentsOf: text.utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        return out
    }

    public static func register(_ account: String, password: String) -> [UInt8] { line("REGISTER", [account, password]) }
    public static func login(_ account: String, password: String) -> [UInt8] { line("LOGIN", [account, password]) }
    public static func join(_ room: String) -> [UInt8] { line("JOIN", [room]) }
    public static func part(_ room: String) -> [UInt8] { line("PART", [room]) }
    public static func say(_ room: String, _ text: String) -> [UInt8] { line("SAY", [room], text: text) }
    public static func pong(_ token: String) -> [UInt8] { line("PONG", [token]) }
    public static func quit() -> [UInt8] { line("QUIT") }

    public static func history(_ room: String, after: UInt64? = nil, before: UInt64? = nil, limit: Int? = nil,
                               tag: String? = nil) -> [UInt8] {
        var arguments = [room]
        if let after { arguments.append("after=\(after)") }
        if let before { arguments.append("before=\(before)") }
        if let limit { arguments.append("limit=\(limit)") }
        return line("HISTORY", arguments, tag: tag)
    }
}
