import PartnerlineCore
import PartnerlineProtocol
import Testing

struct AccountRegistryTests {
    func registry(with names: [String] = [], invites: [String?] = []) throws -> AccountRegistry {
        var registry = AccountRegistry()
        for (index, name) in names.enumerated() {
            let account = Account(name: name, organisation: name, role: .member, passwordHash: "$x", createdMillis: 1)
            try registry.apply(.accountRegistered(account, invite: index < invites.count ? invites[index] : nil))
        }
        return registry
    }

    @Test func openPolicyAcceptsAGoodRegistration() throws {
        let registry = try registry()
        #expect(registry.checkRegistration(account: "boston-mind", password: "correct-horse", organisation: nil,
                                           invite: nil, policy: .open, inviteCodes: []) == nil)
    }

    @Test(arguments: [
        ("Boston", "correct-horse", ErrorCode.badSyntax),
        ("b", "correct-horse", .badSyntax),
        ("-boston", "correct-horse", .badSyntax),
        ("boston-mind", "short", .badSyntax),
        ("taken-name", "correct-horse", .accountExists),
    ])
    func refusals(account: String, password: String, code: ErrorCode) throws {
        let registry = try registry(with: ["taken-name"])
        #expect(registry.checkRegistration(account: account, password: password, organisation: nil, invite: nil,
                                           policy: .open, inviteCodes: [])?.code == code)
    }

    @Test func closedPolicyRefusesEveryone() throws {
        #expect(try registry().checkRegistration(account: "boston-mind", password: "correct-horse", organisation: nil,
                                                 invite: "x", policy: .closed, inviteCodes: ["x"])?.code == .registrationClosed)
    }

    @Test func invitePolicyNeedsAnUnusedCode() throws {
        let registry = try registry(with: ["first-org"], invites: ["used-code"])
        func check(_ invite: String?) -> ErrorCode? {
            registry.checkRegistration(account: "boston-mind", password: "correct-horse", organisation: nil,
                                       invite: invite, policy: .invite, inviteCodes: ["used-code", "fresh-code"])?.code
        }
        #expect(check(nil) == .registrationClosed)
        #expect(check("wrong") == .registrationClosed)
        #expect(check("used-code") == .registrationClosed)
        #expect(check("fresh-code") == nil)
    }

    @Test func replayRefusesADuplicateAccount() throws {
        var registry = try registry(with: ["boston-mind"])
        let again = Account(name: "boston-mind", organisation: "", role: .member, passwordHash: "$x", createdMillis: 2)
        #expect(throws: ReplayError.self) { try registry.apply(.accountRegistered(again, invite: nil)) }
    }
}
