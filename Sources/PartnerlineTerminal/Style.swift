/// The eight ANSI colours (and their bright forms): what every terminal a volunteer is likely to
/// have can show. Colours are a hint, never the only signal: every coloured kind also has a label.
public enum TerminalColor: UInt8, Sendable, Equatable {
    case black = 0, red, green, yellow, blue, magenta, cyan, white
    case brightBlack = 8, brightRed, brightGreen, brightYellow, brightBlue, brightMagenta, brightCyan, brightWhite
}

/// How one cell looks. `NO_COLOR` drops `foreground` and keeps the attributes (bold, reverse,
/// underline), which carry meaning without colour.
public struct CellStyle: Sendable, Equatable, Hashable {
    public var foreground: TerminalColor?
    public var bold = false
    public var dim = false
    public var underline = false
    public var reverse = false

    public init(foreground: TerminalColor? = nil, bold: Bool = false, dim: Bool = false,
                underline: Bool = false, reverse: Bool = false) {
        self.foreground = foreground
        self.bold = bold
        self.dim = dim
        self.underline = underline
        self.reverse = reverse
    }

    public static let plain = CellStyle()

    public static func == (a: CellStyle, b: CellStyle) -> Bool {
        a.foreground == b.foreground && a.bold == b.bold && a.dim == b.dim && a.underline == b.underline
            && a.reverse == b.reverse
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(foreground)
        hasher.combine(bold)
        hasher.combine(dim)
        hasher.combine(underline)
        hasher.combine(reverse)
    }
}

/// A run of text in one style.
public struct Span: Sendable, Equatable {
    public var text: String
    public var style: CellStyle

    public init(_ text: String, _ style: CellStyle = .plain) {
        self.text = text
        self.style = style
    }
}

/// One logical line of styled text (before wrapping).
public typealias StyledLine = [Span]

extension Array where Element == Span {
    /// The characters of the line without styles (for tests and searching).
    public var plainText: String { map(\.text).joined() }
}
