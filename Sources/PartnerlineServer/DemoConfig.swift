/// The shipped demo config (`Config/partnerline.yaml`) built into the binary, so that
/// `partnerline-server` started in a directory without that file still runs the local demo.
/// Keep it identical to the file: `DemoConfigTests` fails when they differ (copy the file's text
/// between the delimiters below, unchanged).
public enum DemoConfig {
    /// Where the server looks for a config when `--config` is not given.
    public static let defaultPath = "Config/partnerline.yaml"

    public static let yaml = #"""
# Partnerline server configuration: the shipped LOCAL DEMO.
#
# `swift run partnerline-server` reads this file. Every key is optional; the value shown is what
# this demo uses, and a comment says what the built-in default is where it differs.
# Command-line flags (--data-dir, --tls-port, --plain-port, --host) override what is here.

# Shown to clients in the greeting: HELLO partnerline/1 <server_name> :...
server_name: demo

# Journals (the only copy of every cluster's history) and the self-signed certificate live here.
data_dir: data

listen:
  # Address of the TLS listener. 127.0.0.1 keeps the demo on this machine; "::" listens on
  # every IPv4 and IPv6 address (dual stack).
  host: 127.0.0.1
  tls_port: 7443
  # Plaintext listener for netcat. Off unless set here or with --plain-port. It binds to
  # plain_host, which is loopback unless you change it; LOGIN and REGISTER over plaintext are
  # refused with ERR PLAINTEXT_REFUSED unless the peer is a loopback address.
  # plain_port: 7080
  plain_host: 127.0.0.1

tls:
  # PEM certificate chain and private key. With neither set, the server makes a self-signed
  # pair under <data_dir>/tls/ on first start and says where (Certs/make-dev-certs.sh makes a
  # dev CA and a server certificate signed by it). For a real deployment set both, e.g.:
  # certificate: /etc/partnerline/fullchain.pem
  # private_key: /etc/partnerline/privkey.pem
  # SIGHUP re-reads both (new connections get the new pair, open sessions keep theirs; if the new
  # pair cannot be loaded the old one stays and the log says why), and the clusters and rooms.
  #
  # Client certificates for bots: a certificate's SHA-256 mapped to an account. A bot connects
  # with that certificate and sends `LOGIN <account> *` (no password). When this list is
  # empty the server asks for no client certificate. The fingerprint is what
  # `openssl x509 -in bot.crt -noout -fingerprint -sha256` prints (colons and case ignored).
  # client_certificates:
  #   - sha256: "3F:9A:...:C1"
  #     account: funding-alerts-bot

registration:
  # THIS DEMO USES OPEN REGISTRATION: anyone who can reach the port can create an account.
  # open    - anyone may REGISTER
  # invite  - REGISTER needs invite=<code>, each code from the list below used once (the default)
  # closed  - no REGISTER over the wire
  # A real deployment uses invite, for example:
  #   policy: invite
  #   invite_codes: [ rural-2026-k7q2, city-2026-p9x4 ]
  policy: open
  invite_codes: []

passwords:
  # scrypt cost, stored beside each hash so it can be raised later. OWASP's minimum is
  # N = 2^17 (scrypt_log2_n 17), r = 8, p = 1; each hash then takes 128 MiB for a moment.
  scrypt_log2_n: 17
  scrypt_r: 8
  scrypt_p: 1
  # Hashes computed at once, off the I/O queues.
  hashing_threads: 2

journal:
  # When an OK (and the EV to the room) goes out for a stored record. Every journal (each
  # cluster's and the accounts journal) writes a batch of records with one write(), then:
  # always - fdatasync at once: no OK before the batch is on disk; a batch never waits for more
  #          records (those that arrive during an fsync go together in the next batch)
  # batch  - the same write and fdatasync, records from many clients sharing it (group commit),
  #          and a batch may first wait batch_window_micros for more (the default)
  # os     - no fsync: OK after write(); the OS flushes later (a power cut can lose the last seconds)
  fsync: batch
  # batch only: how long a batch waits after its first record for more to join its write and
  # fsync, unless max_batch_records are there first (0: no waiting; records that arrive during an
  # fsync still share the next one). 0 to 1000000.
  batch_window_micros: 0
  # Most records in one write (and fsync), min 1. A command's own records (an item and its MATCH)
  # are never split, so one command with more records than this is written alone.
  max_batch_records: 4096
  # A journal starts a new segment file before one would grow past this many bytes (min 4096;
  # a single batch larger than that still goes into one segment).
  segment_max_bytes: 67108864
  # Newest events per room kept in memory, as the encoded EV lines (up to an eighth more between
  # trims; ~50 KiB a room at 200 with 100-byte messages). HISTORY further back reads the journal
  # through a sparse index, so memory does not grow with the length of history.
  history_window: 200
  # Checkpoints: a snapshot of each cluster's folded state is written in the background after this
  # many new records, and of every journal at a clean shutdown (beside its segments, the newest two
  # kept). Start loads the newest valid one and replays only the records after it; a missing,
  # damaged or mismatching one falls back to an older one, then to the whole journal (the journal
  # stays the source of truth). 0: no checkpoints; every start replays the whole journals.
  checkpoint_every_records: 100000

limits:
  # Longest line in bytes before its newline; longer lines get ERR LINE_TOO_LONG.
  max_line_length: 4096
  # Unread output a client may leave before it is disconnected as a slow consumer
  # (BYE SLOW_CONSUMER, best effort).
  max_outbound_bytes: 1048576
  # Commands a client may send ahead of their replies.
  max_queued_commands: 256

# Abuse protection. Every value below is the built-in default; see the Limits article in the
# PartnerlineServer DocC catalog for why each is what it is.
protection:
  flood:
    # Token bucket per connection: a member may send `burst` commands at once, then
    # `rate_per_second`. Commands beyond that are held back ("fake lag") rather than refused...
    burst: 16
    rate_per_second: 4
    # ...bots (role bot, or logged in with a client certificate) post alerts in batches.
    bot_burst: 200
    bot_rate_per_second: 50
    # ...and once this many commands are held back, further ones are answered ERR RATE_LIMITED
    # (in command order). limits.max_queued_commands stays the hard cap (BYE RATE_LIMITED).
    max_delayed: 32
  connections:
    # Open connections at once from one IPv4 address, or from one IPv6 /64.
    max_per_address: 16
    # New connections from one address (or /64) per window.
    max_new_per_address: 60
    new_window_seconds: 60
    # Open connections in all. Over any limit: BYE TOO_MANY_CONNECTIONS, then close.
    max_total: 10000
  timeouts:
    # A TLS handshake not finished by then is dropped (stalled or half-open clients).
    handshake_seconds: 5
    # Time from the greeting to a successful LOGIN: BYE LOGIN_TIMEOUT.
    registration_seconds: 60
    # Silence after which the server sends PING <token> (answer PONG <token>)...
    idle_seconds: 120
    # ...and further silence before BYE PING_TIMEOUT.
    ping_timeout_seconds: 60
  logins:
    # Failed LOGINs per account, and per address (or /64), within the window before LOGINs for
    # that account / from that address are answered ERR RATE_LIMITED until the window ends.
    max_failures_per_account: 5
    max_failures_per_address: 20
    window_seconds: 300
  hashing:
    # REGISTER and LOGIN hashes waiting for one of passwords.hashing_threads, in all. Beyond this
    # the server is busy: they are answered ERR RATE_LIMITED at once instead of waiting behind a
    # storm (a hash of a connection that has closed is dropped before it starts, and a connection
    # has at most one hash waiting or running).
    max_queued: 16

items:
  # Days before a proposal's or funding alert's deadline when the server posts a REMINDER event.
  reminder_days: [7, 1]
  # How often the server looks for needs, offers, proposals and alerts to expire and reminders to post.
  sweep_interval_seconds: 60

# Clusters and their topic rooms. Names are 2-32 characters of a-z, 0-9 and '-'.
clusters:
  - name: rural-east-midlands
    description: Rural cluster - village halls, advice services and care charities across Lincolnshire and Rutland
    rooms: &standard-rooms
      - name: general
        topic: Introductions, news and anything that fits nowhere else
      - name: purchasing
        topic: Collective purchasing - buy together, pay less (PPE, insurance, energy, minibuses)
      - name: training
        topic: Shared training - safeguarding, first aid, trustee induction, places to share
      - name: premises
        topic: Premises - rooms to lend, desks to share, storage and venues
      - name: marketing
        topic: Marketing - joint campaigns, shared design and comms skills
      - name: representation
        topic: Representation - speaking together to councils, the NHS and funders
      - name: funding
        topic: Funding - grant alerts and consortium bids
  - name: inner-city-north
    description: Inner-city cluster - food banks, youth projects and refugee support in the city centre
    rooms: *standard-rooms
  - name: community-south
    description: Community cluster - faith groups, sports clubs and community centres on the south side
    rooms: *standard-rooms

"""#
}
