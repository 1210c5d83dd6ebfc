/// What the test suites' configs for the real server share.
public enum TestServerConfig {
    /// `protection:` keys, indented two spaces to follow a `protection:` line: flood control,
    /// connection and login limits raised far out of the way, so functional tests are never
    /// fake-lagged or refused (the protection tests write their own).
    public static let relaxedLimits = """
          flood: { burst: 100000, rate_per_second: 100000, bot_burst: 100000, bot_rate_per_second: 100000, max_delayed: 100000 }
          connections: { max_per_address: 10000, max_new_per_address: 100000 }
          logins: { max_failures_per_account: 100000, max_failures_per_address: 100000 }
        """
}
