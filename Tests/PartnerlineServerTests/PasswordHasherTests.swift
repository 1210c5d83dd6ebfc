@testable import PartnerlineServer
import Testing

struct PasswordHasherTests {
    let hasher = PasswordHasher(log2N: 4, r: 8, p: 1)

    @Test func hashesVerifyAndCarryTheirParameters() throws {
        let stored = try #require(hasher.hash(password: "correct-horse-battery"))
        #expect(stored.hasPrefix("$scrypt$ln=4,r=8,p=1$"))
        #expect(!stored.contains("correct-horse"))
        #expect(PasswordHasher.verify(password: "correct-horse-battery", against: stored))
        #expect(!PasswordHasher.verify(password: "correct-horse-batterY", against: stored))
    }

    @Test func saltsDiffer() throws {
        #expect(hasher.hash(password: "same-password") != hasher.hash(password: "same-password"))
    }

    @Test func oldParametersStillVerifyAfterTheCostIsRaised() throws {
        let old = try #require(PasswordHasher(log2N: 3, r: 4, p: 1).hash(password: "correct-horse-battery"))
        #expect(PasswordHasher.verify(password: "correct-horse-battery", against: old))
    }

    @Test(arguments: ["", "plain", "$scrypt$ln=4,r=8,p=1$AAAA", "$bcrypt$ln=4,r=8,p=1$AAAA$AAAA",
                      "$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "$scrypt$ln=4,r=8$AAAA$AAAA", "$scrypt$ln=4,r=8,p=1$!!$AAAA"])
    func unreadableHashesNeverVerify(_ stored: String) {
        #expect(!PasswordHasher.verify(password: "anything-at-all", against: stored))
    }
}
