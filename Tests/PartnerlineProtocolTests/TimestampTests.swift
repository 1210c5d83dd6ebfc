import Testing
@testable import PartnerlineProtocol

@Suite("Timestamp")
struct TimestampTests {
    // Seconds from `date -u -d <time> +%s`.
    static let known: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1_795_598_043_117, "2026-11-25T09:14:03.117Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-1000, "1969-12-31T23:59:59.000Z"),
        (-2_203_891_200_000, "1900-03-01T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (1_234_567_890_012, "2009-02-13T23:31:30.012Z"),
    ]

    @Test func knownValues() {
        for (millis, string) in Self.known {
            #expect(Timestamp.format(millis: millis) == string)
            #expect(Timestamp.parse(string) == millis)
        }
    }

    @Test func appendWritesTwentyFourBytes() {
        var buffer = Array("EV ".utf8)
        Timestamp.append(millis: 1_795_598_043_117, to: &buffer)
        #expect(text(buffer) == "EV 2026-11-25T09:14:03.117Z")
    }

    @Test func leapDays() {
        // The day after Feb 28 is Feb 29 only in leap years.
        let day: Int64 = 86_400_000
        for (year, leap) in [(2024, true), (2023, false), (2000, true), (1900, false), (2100, false), (2400, true)] {
            let feb28 = Timestamp.parse("\(year)-02-28T12:00:00.000Z")!
            #expect(Timestamp.format(millis: feb28 + day) == (leap ? "\(year)-02-29T12:00:00.000Z" : "\(year)-03-01T12:00:00.000Z"))
        }
    }

    @Test func roundTripsEveryDayAcrossCenturies() {
        var millis = Timestamp.parse("1899-12-30T23:59:59.999Z")!
        let end = Timestamp.parse("2101-01-02T00:00:00.000Z")!
        var previous = ""
        while millis < end {
            let s = Timestamp.format(millis: millis)
            #expect(Timestamp.parse(s) == millis)
            #expect(s > previous)  // fixed width, so text order is time order
            previous = s
            millis += 86_400_000 + 3_723_001  // a day plus 1h 2m 3.001s, to move through the clock too
        }
    }

    @Test func randomRoundTrips() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<20_000 {
            let millis = Int64.random(in: -62_135_596_800_000...253_402_300_799_999, using: &rng)
            #expect(Timestamp.parse(Timestamp.format(millis: millis)) == millis)
        }
    }

    @Test func parseIsStrict() {
        for bad in [
            "", "2026-11-25T09:14:03Z", "2026-11-25T09:14:03.11Z", "2026-11-25T09:14:03.1170Z",
            "2026-11-25t09:14:03.117Z", "2026-11-25T09:14:03.117z", "2026-11-25 09:14:03.117Z",
            "2026-11-25T09:14:03.117+00:00", "2026-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z",
            "2026-00-01T00:00:00.000Z", "2026-01-00T00:00:00.000Z", "2026-11-25T24:00:00.000Z",
            "2026-11-25T23:60:00.000Z", "2026-11-25T23:59:60.000Z", "+026-11-25T09:14:03.117Z",
            "2026-11-25T09:14:0a.117Z", " 2026-11-25T09:14:03.117Z", "2026-11-25T09:14:03.117Z ",
            "２026-11-25T09:14:03.117Z",
        ] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }

    @Test func extremesDoNotTrap() {
        #expect(Timestamp.format(millis: Int64.max).hasSuffix("Z"))
        #expect(Timestamp.format(millis: Int64.min).hasPrefix("-"))
    }

    @Test func nowIsPlausible() {
        let now = Timestamp.nowMillis()
        #expect(now > 1_767_225_600_000)  // after 2026-01-01
        #expect(now < 4_102_444_800_000)  // before 2100-01-01
        #expect(Timestamp.nowMillis() >= now - 1000)
    }
}

@Suite("CalendarDate")
struct CalendarDateTests {
    @Test func parsesRealDates() {
        let date = CalendarDate(parsing: "2026-12-31")
        #expect(date?.year == 2026)
        #expect(date?.month == 12)
        #expect(date?.day == 31)
        #expect(date?.string == "2026-12-31")
        #expect(CalendarDate(parsing: "2024-02-29") != nil)
        #expect(CalendarDate(parsing: "2000-02-29") != nil)
        #expect(CalendarDate(parsing: "0001-01-01")?.string == "0001-01-01")
        #expect(CalendarDate(parsing: "9999-12-31") != nil)
    }

    @Test func rejectsWhatIsNotAStrictRealDate() {
        for bad in [
            "2026-02-30", "2026-13-01", "26-1-1", "2026-1-01", "2026-01-1", "2026-00-10", "2026-04-31",
            "2023-02-29", "1900-02-29", "0000-01-01", "2026/01/01", "2026-01-01 ", " 2026-01-01",
            "2026-01-01T00:00:00.000Z", "", "+2026-01-01", "2026-0a-01", "２０２６-01-01",
        ] {
            #expect(CalendarDate(parsing: bad) == nil, "\(bad)")
        }
        #expect(CalendarDate(year: 2026, month: 2, day: 29) == nil)
        #expect(CalendarDate(year: 10_000, month: 1, day: 1) == nil)
    }

    @Test func startMillis() {
        #expect(CalendarDate(parsing: "1970-01-01")?.startMillis == 0)
        #expect(CalendarDate(parsing: "2026-11-25")?.startMillis == 1_795_564_800_000)
        #expect(CalendarDate(parsing: "1969-12-31")?.startMillis == -86_400_000)
        #expect(CalendarDate(parsing: "2026-11-25")?.endMillis == CalendarDate(parsing: "2026-11-26")?.startMillis)
    }

    @Test func containingMillis() {
        #expect(CalendarDate(containingMillis: 1_795_598_043_117).string == "2026-11-25")
        #expect(CalendarDate(containingMillis: -1).string == "1969-12-31")
        #expect(CalendarDate(containingMillis: 1_795_564_800_000).string == "2026-11-25")
        #expect(CalendarDate(containingMillis: 1_795_564_799_999).string == "2026-11-24")
    }

    @Test func ordering() {
        let dates = ["2026-12-31", "2026-01-02", "2025-12-31", "2026-01-10", "2026-02-01"].compactMap(CalendarDate.init(parsing:))
        #expect(dates.sorted().map(\.string) == ["2025-12-31", "2026-01-02", "2026-01-10", "2026-02-01", "2026-12-31"])
        #expect(CalendarDate(parsing: "2026-01-01") == CalendarDate(year: 2026, month: 1, day: 1))
    }
}
