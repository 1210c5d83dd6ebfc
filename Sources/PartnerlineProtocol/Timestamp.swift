/// RFC 3339 UTC timestamps with millisecond precision, e.g. `2026-11-25T09:14:03.117Z`,
/// computed with integer arithmetic (no Foundation formatters).
public enum Timestamp {
    public static let millisPerDay: Int64 = 86_400_000

    /// The timestamp for Unix epoch milliseconds. Years outside 0000...9999 are
    /// written with more digits (or a `-`), which `parse` does not accept.
    public static func format(millis: Int64) -> String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(24)
        append(millis: millis, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Appends the 24 bytes of the timestamp for `millis` to `buffer`.
    public static func append(millis: Int64, to buffer: inout [UInt8]) {
        let (days, msOfDay) = floorDivide(millis, millisPerDay)
        let date = CivilDate(days: days)
        if date.year < 0 { buffer.append(UInt8(ascii: "-")) }
        appendDigits(date.year.magnitude, width: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendDigits(UInt64(date.month), width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        appendDigits(UInt64(date.day), width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "T"))
        let ms = UInt64(msOfDay)
        appendDigits(ms / 3_600_000, width: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendDigits(ms / 60_000 % 60, width: 2, to: &buffer)
        buffer.append(UInt8(ascii: ":"))
        appendDigits(ms / 1000 % 60, width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "."))
        appendDigits(ms % 1000, width: 3, to: &buffer)
        buffer.append(UInt8(ascii: "Z"))
    }

    /// The inverse of `format`, strict: exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`
    /// (upper-case `T` and `Z`, three fraction digits, a real calendar date,
    /// no leap second). Nil otherwise.
    public static func parse(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 24,
              b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"), b[19] == UInt8(ascii: "."),
              b[23] == UInt8(ascii: "Z"),
              let year = digits(b, 0, 4), let month = digits(b, 5, 2), let day = digits(b, 8, 2),
              let hour = digits(b, 11, 2), let minute = digits(b, 14, 2), let second = digits(b, 17, 2),
              let milli = digits(b, 20, 3),
              CivilDate.isValid(year: year, month: month, day: day),
              hour < 24, minute < 60, second < 60
        else { return nil }
        let days = CivilDate.days(year: year, month: month, day: day)
        return days * millisPerDay + Int64(((hour * 60 + minute) * 60 + second) * 1000 + milli)
    }

    /// The current wall-clock time in Unix epoch milliseconds.
    public static func nowMillis() -> Int64 { WallClock.nowMillis() }

    // MARK: - Helpers

    static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            q -= 1
            r += b
        }
        return (q, r)
    }

    static func appendDigits(_ value: UInt64, width: Int, to buffer: inout [UInt8]) {
        var divisor: UInt64 = 1
        var count = 1
        while count < width || value / divisor >= 10 {
            divisor *= 10
            count += 1
        }
        while divisor > 0 {
            buffer.append(UInt8(ascii: "0") &+ UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    /// The decimal number in `b[from..<from+count]`, nil unless all are ASCII digits.
    static func digits(_ b: [UInt8], _ from: Int, _ count: Int) -> Int? {
        var value = 0
        for i in from..<(from + count) {
            let c = b[i]
            guard c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(c - UInt8(ascii: "0"))
        }
        return value
    }
}

/// A proleptic Gregorian date, with Howard Hinnant's day-count algorithms
/// (days relative to 1970-01-01).
struct CivilDate {
    var year: Int64
    var month: Int
    var day: Int

    init(days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * mp + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    static func isValid(year: Int, month: Int, day: Int) -> Bool {
        (1...12).contains(month) && day >= 1 && day <= daysIn(year: year, month: month)
    }
}

/// A calendar date as used on the wire: strict `YYYY-MM-DD` (spec "Dates").
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// A real date with a year in 1...9999; nil otherwise.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), CivilDate.isValid(year: year, month: month, day: day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Strict `YYYY-MM-DD`: exactly ten bytes, all digits where digits belong, a real date.
    public init?(parsing text: String) {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let year = Timestamp.digits(b, 0, 4), let month = Timestamp.digits(b, 5, 2),
              let day = Timestamp.digits(b, 8, 2)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    /// The UTC date containing the instant `millis` (Unix epoch milliseconds),
    /// clamped to years 1...9999.
    public init(containingMillis millis: Int64) {
        let (days, _) = Timestamp.floorDivide(millis, Timestamp.millisPerDay)
        let civil = CivilDate(days: days)
        if civil.year < 1 {
            (year, month, day) = (1, 1, 1)
        } else if civil.year > 9999 {
            (year, month, day) = (9999, 12, 31)
        } else {
            (year, month, day) = (Int(civil.year), civil.month, civil.day)
        }
    }

    /// `YYYY-MM-DD`.
    public var string: String {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(10)
        Timestamp.appendDigits(UInt64(year), width: 4, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        Timestamp.appendDigits(UInt64(month), width: 2, to: &buffer)
        buffer.append(UInt8(ascii: "-"))
        Timestamp.appendDigits(UInt64(day), width: 2, to: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    public var description: String { string }

    /// Midnight UTC at the start of this date, in Unix epoch milliseconds.
    public var startMillis: Int64 {
        CivilDate.days(year: year, month: month, day: day) * Timestamp.millisPerDay
    }

    /// Midnight UTC at the end of this date (the start of the next day).
    public var endMillis: Int64 { startMillis + Timestamp.millisPerDay }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
