import Foundation
@testable import PartnerlineServer
import PartnerlineProtocol
import PartnerlineTestSupport
import Testing

/// A clock the test moves by hand: expiry and reminders without waiting.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64

    init(_ date: String) { millis = CalendarDate(parsing: date)!.startMillis + 9 * 3_600_000 }

    func set(_ date: String) {
        lock.lock()
        millis = CalendarDate(parsing: date)!.startMillis + 9 * 3_600_000
        lock.unlock()
    }

    var now: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return millis
    }
}

@Suite struct ExpiryAndRolesTests {
    @Test func itemsExpireAndDeadlinesAreRemindedByTheServerOnce() throws {
        let dir = TempDir()
        let config = try ItemsSessionTests.setUp(dir)
        let clock = ManualClock("2026-11-25")
        let funding = ItemsSessionTests.funding
        do {
            let server = try InProcessServer(config, clock: { clock.now })
            let lead = try server.client()
            try lead.login("lincoln-aid")
            _ = try lead.send("JOIN \(funding)")
            _ = try lead.send("JOIN \(ItemsSessionTests.purchasing)")
            #expect(try lead.final("PROPOSE \(funding) deadline=2026-12-10 Winter fuel bid").hasPrefix("OK PROPOSE id=P1"))
            #expect(try lead.final("NEED \(ItemsSessionTests.purchasing) until=2026-11-30 Gloves").hasPrefix("OK NEED id=N1"))
            #expect(server.service.sweepNow() == 0)

            clock.set("2026-12-03")
            #expect(server.service.sweepNow() == 2)
            let reminder = try lead.readLine()
            let expiredNeed = try lead.readLine()
            #expect(Set([reminder, expiredNeed].map { $0.split(separator: " ").dropFirst(4).joined(separator: " ") }) == [
                "*server REMINDER id=P1 days=7 deadline=2026-12-10 :deadline 2026-12-10 for P1 is in 7 days: Winter fuel bid",
                "*server STATUS id=N1 status=expired :until 2026-11-30 has passed",
            ])
            #expect(server.service.sweepNow() == 0)
            server.stop()
        }
        // After a restart nothing is posted twice; the 1-day reminder and the expiry follow.
        let server = try InProcessServer(config, clock: { clock.now })
        #expect(server.service.sweepNow() == 0)
        clock.set("2026-12-09")
        #expect(server.service.sweepNow() == 1)
        clock.set("2026-12-11")
        #expect(server.service.sweepNow() == 1)
        let lead = try server.client()
        try lead.login("lincoln-aid", register: false)
        #expect(try lead.send("LIST \(funding) proposals") == ["OK LIST room=\(funding) count=0"])
        #expect(try lead.send("LIST \(funding) proposals all").first?.hasPrefix("* ITEM P1 \(funding) status=expired") == true)
        #expect(errorCode(try lead.final("BACK P1 Late help")) == "INVALID_STATE")
        _ = try lead.send("JOIN \(funding)")
        let kinds = try lead.send("HISTORY \(funding)").dropLast().map { $0.split(separator: " ")[5] }
        #expect(kinds == ["PROPOSAL", "REMINDER", "REMINDER", "STATUS"])
    }

    @Test func facilitatorsAreGrantedPerClusterAndMayPostFundingThere() throws {
        let dir = TempDir()
        let config = try ItemsSessionTests.setUp(dir)
        let server = try InProcessServer(config)
        let admin = try server.client()
        #expect(try admin.final("LOGIN root-admin admin-password-1") == "OK LOGIN account=root-admin role=admin rooms=0")
        let facilitator = try server.client()
        try facilitator.login("rural-hub")
        #expect(try admin.final("GRANT rural-hub facilitator cluster=rural-east-midlands")
            == "OK GRANT account=rural-hub role=facilitator facilitates=rural-east-midlands")
        // Takes effect on the next command, without logging in again.
        _ = try facilitator.send("JOIN \(ItemsSessionTests.funding)")
        #expect(try facilitator.final("FUNDING \(ItemsSessionTests.funding) funder=\"Rural Trust\" Village halls fund")
            .hasPrefix("OK FUNDING id=F1"))
        _ = try facilitator.send("JOIN inner-city-north/general")
        #expect(errorCode(try facilitator.final("FUNDING inner-city-north/general funder=X Fund")) == "FORBIDDEN")
        // A facilitator makes another facilitator of the same cluster, not of another, and no bots.
        let helper = try server.client()
        try helper.login("rural-helper")
        #expect(try facilitator.final("GRANT rural-helper facilitator cluster=rural-east-midlands").hasPrefix("OK GRANT"))
        #expect(errorCode(try facilitator.final("GRANT rural-helper facilitator cluster=inner-city-north")) == "FORBIDDEN")
        #expect(errorCode(try facilitator.final("GRANT rural-helper bot")) == "FORBIDDEN")
        // Facilitators may resolve others' needs in their cluster.
        _ = try helper.send("JOIN \(ItemsSessionTests.purchasing)")
        _ = try helper.send("NEED \(ItemsSessionTests.purchasing) Chairs")
        #expect(try facilitator.final("RESOLVE N1 duplicate of an older post").hasPrefix("OK RESOLVE"))
        #expect(try admin.final("REVOKE rural-hub facilitator cluster=rural-east-midlands") == "OK REVOKE account=rural-hub role=member")
        #expect(errorCode(try facilitator.final("FUNDING \(ItemsSessionTests.funding) funder=X Fund")) == "FORBIDDEN")
        server.stop()
        // Roles come back from the journal.
        let again = try InProcessServer(config)
        let client = try again.client()
        try client.login("rural-helper", register: false, role: "facilitator")
        let revoked = try again.client()
        try revoked.login("rural-hub", register: false)
    }

    @Test func itemSettingsComeFromTheConfig() throws {
        let base = "clusters:\n  - name: rural\n    rooms:\n      - name: general\n"
        #expect(try ServerConfig.parse(yaml: base).items == ServerConfig.Items())
        let custom = try ServerConfig.parse(yaml: base + "items:\n  reminder_days: [14, 3]\n  sweep_interval_seconds: 5\n")
        #expect(custom.items.reminderDays == [14, 3] && custom.items.sweepIntervalSeconds == 5)
        #expect(throws: ConfigError.self) { try ServerConfig.parse(yaml: base + "items:\n  reminder_days: [0]\n") }
        #expect(throws: ConfigError.self) { try ServerConfig.parse(yaml: base + "items:\n  sweep_interval_seconds: 0\n") }
        // The shipped config parses, with the documented defaults.
        #expect(try ServerConfig.load(path: "Config/partnerline.yaml").items == ServerConfig.Items())
    }
}
