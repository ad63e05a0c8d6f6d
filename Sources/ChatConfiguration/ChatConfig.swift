import ChatCore
import ChatJobs
import ChatPush
import Foundation
import ChatRealtime
import ChatStore

/// Everything chatd can be told, with the embedded development default as the initial values.
/// `etc/chatd.toml` documents every key; `ConfigReader` reads them from TOML and `CHATD_*` variables.
public struct ChatConfig: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public init() {}

        public var host = "127.0.0.1"
        public var port = 8080
        /// Serve plain HTTP on an address other than loopback (behind a proxy on a private network); without TLS and
        /// without this, only loopback is allowed.
        public var allowPlainHTTP = false
    }

    /// HTTPS and WSS in process. Both paths empty: plain HTTP (loopback only unless `server.allow_plain_http`).
    public struct TLS: Sendable, Equatable {
        public init() {}

        /// PEM: the certificate, then its intermediates (certbot's `fullchain.pem`).
        public var certificate = ""
        /// PEM: its private key (certbot's `privkey.pem`).
        public var key = ""
        /// A second listener that only redirects to HTTPS and serves ACME HTTP-01 challenges; 0: none.
        public var redirectPort = 0
        /// The folder certbot's webroot mode writes challenges into (`<folder>/.well-known/acme-challenge/`).
        public var acmeWebroot = ""
        /// `Strict-Transport-Security: max-age` on every HTTPS response; 0: not sent.
        public var hstsSeconds = 31_536_000

        public var isEnabled: Bool { !certificate.isEmpty }
    }

    /// The HTTP listener's defences against slow and malformed clients (each connection costs a descriptor).
    public struct HTTP: Sendable, Equatable {
        public init() {}

        /// A connection with no request in progress is closed after this long.
        public var idleTimeoutSeconds = 60
        /// From a request's first byte to the end of its head (slowloris).
        public var requestHeadTimeoutSeconds = 10
        /// From the end of a head to the end of its body, plus a second for every `requestBodyMinBytesPerSecond`
        /// bytes received.
        public var requestBodyTimeoutSeconds = 20
        public var requestBodyMinBytesPerSecond = 1024
        /// The request line and headers together, and how many header fields.
        public var maxHeaderBytes = 16 * 1024
        public var maxHeaderCount = 100
    }

    public struct Storage: Sendable, Equatable {
        public init() {}

        public var dataDirectory = "./chatd-data"
        public var durability = Durability.full
    }

    public struct Auth: Sendable, Equatable {
        public init() {}

        /// HS256 secret for chatd's own access tokens; generated and kept in the data folder when empty.
        public var jwtSecret = ""
        public var accessTokenSeconds = 900
        public var refreshTokenSeconds = 7 * 24 * 3600
        public var bcryptCost = 12
        /// Key of the app's own backend for `/v1/server/*`; empty disables that API.
        public var apiKey = ""
        /// Secret the presigned media URLs are signed with; derived from the token secret when empty.
        public var mediaURLSecret = ""
    }

    public struct OTP: Sendable, Equatable {
        public init() {}

        /// Where codes are POSTed for delivery; empty means "write them to the log" (development only).
        public var webhookURL = ""
        public var codeSeconds = 300
        public var maxAttempts = 5
        /// Codes one destination may be sent per hour (SMS costs money; a flood is abuse).
        public var requestsPerHour = 10
    }

    /// Tokens minted by the app's own backend ("bring your own auth").
    public struct ExternalAuth: Sendable, Equatable {
        public var issuer: String
        public var audience: String
        public var algorithm: String
        public var secret: String
        public var publicKeyFile: String

        public init(
            issuer: String = "", audience: String = "", algorithm: String = "HS256", secret: String = "",
            publicKeyFile: String = ""
        ) {
            self.issuer = issuer
            self.audience = audience
            self.algorithm = algorithm
            self.secret = secret
            self.publicKeyFile = publicKeyFile
        }

        public var isEnabled: Bool { !issuer.isEmpty }
    }

    public struct Limits: Sendable, Equatable {
        public init() {}

        public var maxBodyBytes = 64 * 1024
        public var maxMessageBytes = 4096
        public var maxGroupMembers = 1000
        public var authRequestsPerMinute = 100
        public var messagesPerMinute = 600
    }

    public struct Events: Sendable, Equatable {
        public init() {}

        public var retentionDays = 30
    }

    /// The durable job queue: each named queue's policy, and the time zone its daily schedules keep.
    public struct Jobs: Sendable, Equatable {
        public init() {}

        /// An IANA time zone name ("Europe/Berlin") for the schedules' wall-clock times.
        public var timeZone = "UTC"
        /// The daily cleanup pass, "HH:MM" in `timeZone`.
        public var cleanupTime = "03:30"
        public var queues = QueuePolicy.defaults
    }

    /// Thresholds an operator is warned by and `/readyz` answers by.
    public struct Operations: Sendable, Equatable {
        public init() {}

        /// `chatctl status` and `check` warn when the data's disk is fuller than this.
        public var diskWarningPercent = 80
        /// `/readyz` answers 503 when it is fuller than this (writes would soon fail).
        public var diskFullPercent = 95
    }

    /// Snapshots of the database (with a manifest of the media) and, between them, the WAL shipped for
    /// point-in-time recovery.
    public struct Backup: Sendable, Equatable {
        public init() {}

        /// Where snapshots go; empty: `<data_dir>/backups`. Best on another disk.
        public var directory = ""
        /// The daily snapshot, "HH:MM" in `jobs.time_zone`; empty: no schedule (`chatctl backup create` still works).
        public var time = "04:00"
        /// Snapshots kept; older ones are removed after each new one.
        public var keep = 7
        /// A shell command run after each snapshot, with `CHATD_BACKUP` set to its folder (an `rclone copy` line).
        public var postCommand = ""
        /// Where WAL segments are shipped for point-in-time recovery (another disk, a mounted remote); empty: off.
        public var walDirectory = ""
        /// Seconds between shipments at most: the recovery point under write load.
        public var shipSeconds = 60
    }

    /// Alert rules evaluated in process, and where firing and resolved notices are POSTed.
    public struct Alerts: Sendable, Equatable {
        public init() {}

        /// A Slack-compatible incoming webhook; empty: alerts show in `chatctl status`, `check` and `/metrics` only.
        public var webhookURL = ""
        public var cpuPercent = 80
        public var memoryPercent = 85
        /// Share of HTTP responses that are 5xx over the last 5 minutes.
        public var errorRatePercent = 1
        /// No successful snapshot for this long fires `backup_missing`.
        public var backupMaxAgeHours = 26
        /// How often the rules are evaluated.
        public var intervalSeconds = 30
    }

    /// `/metrics` for Prometheus, on a listener of its own.
    public struct Metrics: Sendable, Equatable {
        public init() {}

        public var enabled = true
        /// Loopback by default: a scraper elsewhere should come through a tunnel or a proxy with authentication.
        public var host = "127.0.0.1"
        public var port = 9464
    }

    /// The admin API `chatctl` talks to.
    public struct Admin: Sendable, Equatable {
        public init() {}

        /// Its Unix socket; empty: `<data_dir>/admin.sock` (the Debian package sets /run/chatd/admin.sock).
        public var socket = ""
    }

    public struct Log: Sendable, Equatable {
        public init() {}

        /// The subsystems whose level `log.<name>` sets; each is a logger labelled `chatd.<name>`.
        public static let subsystemNames = ["http", "realtime", "store", "jobs", "media", "auth", "admin", "alerts", "backup", "push"]

        public var level = "info"
        /// "logfmt" or "json", one line per event on standard output.
        public var format = "logfmt"
        /// Levels of single subsystems, over `level`.
        public var subsystems: [String: String] = [:]
    }

    public var server = Server()
    public var tls = TLS()
    public var http = HTTP()
    public var storage = Storage()
    public var auth = Auth()
    public var otp = OTP()
    public var external = ExternalAuth()
    public var limits = Limits()
    /// The WebSocket gateway (`/v1/ws`): its limits and timings, as the gateway takes them.
    public var realtime = RealtimeLimits()
    public var events = Events()
    public var jobs = Jobs()
    /// Uploads, processing and the media lifecycle (`[media]`), as ChatMedia takes them.
    public var media = MediaLimits()
    public var push = PushConfiguration()
    public var admin = Admin()
    public var backup = Backup()
    public var metrics = Metrics()
    public var alerts = Alerts()
    public var operations = Operations()
    public var log = Log()
    /// True when no config file was given: loopback, plain HTTP, local data, OTP codes in the log.
    public var isDevelopmentDefault = true

    public init() {}


    /// Where the admin socket is: `admin.socket`, or `<data_dir>/admin.sock`.
    public var adminSocketPath: String {
        admin.socket.isEmpty
            ? URL(fileURLWithPath: storage.dataDirectory).standardizedFileURL.appendingPathComponent("admin.sock").path
            : admin.socket
    }

    /// Where snapshots go: `backup.directory`, or `<data_dir>/backups`.
    public var backupDirectory: String {
        backup.directory.isEmpty
            ? URL(fileURLWithPath: storage.dataDirectory).standardizedFileURL.appendingPathComponent("backups").path
            : backup.directory
    }

    public var storeLimits: StoreLimits {
        StoreLimits(maxGroupMembers: limits.maxGroupMembers, eventRetentionDays: events.retentionDays)
    }
}
