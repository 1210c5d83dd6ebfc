import Foundation

/// How a window line looks: `HH:MM` in the local time zone, then per kind a label and colour
/// (needs yellow, offers green, proposals magenta, funding cyan, matches and reminders bold), the
/// item id to type, the actor, details dimmed, then the text. The label carries the meaning, so
/// `NO_COLOR` loses nothing.
public struct LineFormatter: Sendable {
    public var timeZone: TimeZone
    public var account: String

    public init(timeZone: TimeZone = .current, account: String) {
        self.timeZone = timeZone
        self.account = account
    }

    static func label(_ kind: LineKind) -> (String, TerminalColor?)? {
        switch kind {
        case .need: return ("NEED", .yellow)
        case .offer: return ("OFFER", .green)
        case .proposal: return ("PROPOSAL", .magenta)
        case .funding: return ("FUNDING", .cyan)
        case .match: return ("MATCH", .brightYellow)
        case .reminder: return ("REMINDER", .brightBlue)
        case .back: return ("BACK", .magenta)
        case .vote: return ("VOTE", .magenta)
        case .reply: return ("REPLY", .blue)
        case .status: return ("STATUS", .blue)
        default: return nil
        }
    }

    /// `HH:MM` in the formatter's zone, without Foundation's per-call formatter cost.
    public func clock(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: date)
        let minutes = ((seconds / 60) % 1440 + 1440) % 1440
        let h = minutes / 60, m = minutes % 60
        return (h < 10 ? "0" : "") + String(h) + ":" + (m < 10 ? "0" : "") + String(m)
    }

    /// The styled line and the indent for its continuation rows (the text's column).
    public func format(_ line: ChatLine) -> (StyledLine, Int) {
        var spans: StyledLine = []
        var width = 0
        func add(_ text: String, _ style: CellStyle = .plain) {
            spans.append(Span(text, style))
            width += CharacterWidth.of(text)
        }
        add(line.time.map(clock) ?? "     ", CellStyle(dim: true))
        add(" ")
        let dim = CellStyle(dim: true)
        switch line.kind {
        case .message:
            let own = line.actor == account
            add("<", dim)
            add(line.actor ?? "?", CellStyle(foreground: own ? .cyan : nil, bold: true, reverse: line.highlight))
            add("> ", dim)
            let indent = width
            add(line.text, CellStyle(bold: line.highlight))
            return (spans, indent)
        case .info:
            add("-- ", dim)
        case .notice:
            add("-!- ", CellStyle(foreground: .yellow, bold: true))
        case .error:
            add("!! ", CellStyle(foreground: .red, bold: true))
            let indent = width
            add(line.text, CellStyle(foreground: .red))
            return (spans, indent)
        case .roomChange:
            add("-- ", dim)
            add((line.actor ?? "") + " " + line.details + ": ", dim)
        case .data:
            if let id = line.itemID { add(id + " ", CellStyle(bold: true)) }
            if !line.details.isEmpty { add(line.details + " ", dim) }
        default:
            let (label, color) = Self.label(line.kind) ?? ("", nil)
            let emphasis = line.kind == .match || line.kind == .reminder || line.highlight
            add(label, CellStyle(foreground: color, bold: true, reverse: line.highlight))
            if let id = line.itemID { add(" " + id, CellStyle(foreground: color, bold: true, underline: true)) }
            if let actor = line.actor, actor != "*server" { add(" " + actor, CellStyle(bold: emphasis)) }
            if !line.details.isEmpty { add(" [" + line.details + "]", dim) }
            add(line.text.isEmpty ? "" : ": ")
        }
        let indent = width
        add(line.text, CellStyle(bold: line.highlight))
        return (spans, indent)
    }
}
