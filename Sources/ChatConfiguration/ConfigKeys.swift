import ChatCore
import ChatJobs
import ChatMedia
import ChatStore

/// Every configuration key: its dotted TOML path (also its `CHATD_*` variable), its type and where it goes.
/// A key that is not in this list is an error, so a typo never silently falls back to a default.
struct ConfigKey: Sendable {
    enum Kind: Sendable {
        case string
        case int(ClosedRange<Int>)
        case choice([String])
        case bool
    }

    let path: String
    let kind: Kind
    let apply: @Sendable (inout ChatConfig, ConfigValue) -> Void

    /// `server.port` → `CHATD_SERVER_PORT`
    var environmentName: String {
        "CHATD_" + path.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    var expectation: String {
        switch kind {
        case .string: "a string"
        case .int(let range): "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .choice(let choices): "one of " + choices.map { "\"\($0)\"" }.joined(separator: ", ")
        case .bool: "true or false"
        }
    }
}

enum ConfigValue: Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)

    var string: String {
        if case .string(let value) = self { return value }
        return ""
    }

    var int: Int {
        if case .int(let value) = self { return value }
        return 0
    }

    var bool: Bool {
        if case .bool(let value) = self { return value }
        return false
    }
}

extension ConfigKey {
    static func string(_ path: String, _ set: @escaping @Sendable (inout ChatConfig, String) -> Void) -> ConfigKey {
        ConfigKey(path: path, kind: .string) { set(&$0, $1.string) }
    }

    static func int(
        _ path: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout ChatConfig, Int) -> Void
    ) -> ConfigKey {
        ConfigKey(path: path, kind: .int(range)) { set(&$0, $1.int) }
    }

    static func bool(_ path: String, _ set: @escaping @Sendable (inout ChatConfig, Bool) -> Void) -> ConfigKey {
        ConfigKey(path: path, kind: .bool) { set(&$0, $1.bool) }
    }

    static func choice(
        _ path: String, _ choices: [String], _ set: @escaping @Sendable (inout ChatConfig, String) -> Void
    ) -> ConfigKey {
        ConfigKey(path: path, kind: .choice(choices)) { set(&$0, $1.string) }
    }

    /// `jobs.<queue>.concurrency` and the rest of a queue's policy, for each of chatd's queues.
    static let jobQueues: [ConfigKey] = Job.Queue.all.flatMap { queue -> [ConfigKey] in
        func policy(_ name: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout QueuePolicy, Int) -> Void)
            -> ConfigKey
        {
            .int("jobs.\(queue).\(name)", range) { config, value in
                set(&config.jobs.queues[queue, default: QueuePolicy.defaults[queue]!], value)
            }
        }
        return [
            policy("concurrency", 1...256) { $0.concurrency = $1 },
            policy("attempts", 1...100) { $0.maxAttempts = $1 },
            policy("backoff_seconds", 1...86_400) { $0.backoffSeconds = $1 },
            policy("max_backoff_seconds", 1...604_800) { $0.maxBackoffSeconds = $1 },
            policy("lease_seconds", 5...86_400) { $0.leaseSeconds = $1 },
        ]
    }

    static let all: [ConfigKey] = [
        .string("server.host") { $0.server.host = $1 },
        .int("server.port", 0...65535) { $0.server.port = $1 },
        .bool("server.allow_plain_http") { $0.server.allowPlainHTTP = $1 },
        .string("tls.certificate") { $0.tls.certificate = $1 },
        .string("tls.key") { $0.tls.key = $1 },
        .int("tls.redirect_port", 0...65535) { $0.tls.redirectPort = $1 },
        .string("tls.acme_webroot") { $0.tls.acmeWebroot = $1 },
        .int("tls.hsts_seconds", 0...(2 * 31_536_000)) { $0.tls.hstsSeconds = $1 },
        .int("http.idle_timeout_seconds", 1...3600) { $0.http.idleTimeoutSeconds = $1 },
        .int("http.request_head_timeout_seconds", 1...600) { $0.http.requestHeadTimeoutSeconds = $1 },
        .int("http.request_body_timeout_seconds", 1...3600) { $0.http.requestBodyTimeoutSeconds = $1 },
        .int("http.request_body_min_bytes_per_second", 1...(1 << 30)) { $0.http.requestBodyMinBytesPerSecond = $1 },
        .int("http.max_header_bytes", 1024...(1 << 20)) { $0.http.maxHeaderBytes = $1 },
        .int("http.max_header_count", 8...10_000) { $0.http.maxHeaderCount = $1 },
        .string("storage.data_dir") { $0.storage.dataDirectory = $1 },
        .choice("storage.synchronous", Durability.allCases.map(\.rawValue)) {
            $0.storage.durability = Durability(rawValue: $1) ?? .full
        },
        .string("auth.jwt_secret") { $0.auth.jwtSecret = $1 },
        .int("auth.access_token_seconds", 60...86_400) { $0.auth.accessTokenSeconds = $1 },
        .int("auth.refresh_token_seconds", 300...(366 * 86_400)) { $0.auth.refreshTokenSeconds = $1 },
        .int("auth.bcrypt_cost", 4...16) { $0.auth.bcryptCost = $1 },
        .string("auth.api_key") { $0.auth.apiKey = $1 },
        .string("otp.webhook_url") { $0.otp.webhookURL = $1 },
        .int("otp.code_seconds", 30...3600) { $0.otp.codeSeconds = $1 },
        .int("otp.max_attempts", 1...20) { $0.otp.maxAttempts = $1 },
        .int("otp.requests_per_hour", 1...1000) { $0.otp.requestsPerHour = $1 },
        .string("external_auth.issuer") { $0.external.issuer = $1 },
        .string("external_auth.audience") { $0.external.audience = $1 },
        .choice("external_auth.algorithm", ["HS256", "RS256", "ES256"]) { $0.external.algorithm = $1 },
        .string("external_auth.secret") { $0.external.secret = $1 },
        .string("external_auth.public_key_file") { $0.external.publicKeyFile = $1 },
        .int("limits.max_body_bytes", 1024...(16 << 20)) { $0.limits.maxBodyBytes = $1 },
        .int("limits.max_message_bytes", 16...65_536) { $0.limits.maxMessageBytes = $1 },
        .int("limits.max_group_members", 2...100_000) { $0.limits.maxGroupMembers = $1 },
        .int("limits.auth_requests_per_minute", 1...1_000_000) { $0.limits.authRequestsPerMinute = $1 },
        .int("limits.messages_per_minute", 1...1_000_000) { $0.limits.messagesPerMinute = $1 },
        .int("realtime.heartbeat_seconds", 1...600) { $0.realtime.heartbeatSeconds = $1 },
        .int("realtime.timeout_seconds", 2...3600) { $0.realtime.timeoutSeconds = $1 },
        .int("realtime.reauth_grace_seconds", 1...3600) { $0.realtime.reauthGraceSeconds = $1 },
        .int("realtime.hello_timeout_seconds", 1...300) { $0.realtime.helloTimeoutSeconds = $1 },
        .int("realtime.max_frame_bytes", 1024...(16 << 20)) { $0.realtime.maxFrameBytes = $1 },
        .int("realtime.frames_per_second", 1...100_000) { $0.realtime.framesPerSecond = $1 },
        .int("realtime.frame_burst", 1...100_000) { $0.realtime.frameBurst = $1 },
        .int("realtime.user_frames_per_second", 1...1_000_000) { $0.realtime.userFramesPerSecond = $1 },
        .int("realtime.max_connections_per_user", 1...10_000) { $0.realtime.maxConnectionsPerUser = $1 },
        .int("realtime.max_connections_per_ip", 1...1_000_000) { $0.realtime.maxConnectionsPerIP = $1 },
        .int("realtime.max_outbound_bytes", 16_384...(64 << 20)) { $0.realtime.maxOutboundBytes = $1 },
        .int("events.retention_days", 1...3650) { $0.events.retentionDays = $1 },
        .int("media.max_image_bytes", 1024...(1 << 31)) { $0.media.maxImageBytes = Int64($1) },
        .int("media.max_video_bytes", 1024...(1 << 34)) { $0.media.maxVideoBytes = Int64($1) },
        .int("media.max_file_bytes", 1024...(1 << 34)) { $0.media.maxFileBytes = Int64($1) },
        .int("media.user_quota_bytes", 1024...(1 << 40)) { $0.media.userQuotaBytes = Int64($1) },
        .int("media.max_pixels", 1...1_000_000_000) { $0.media.maxPixels = $1 },
        .int("media.display_size", 64...8192) { $0.media.displaySize = $1 },
        .int("media.thumbnail_size", 16...2048) { $0.media.thumbnailSize = $1 },
        .int("media.max_attachments", 1...100) { $0.media.maxAttachments = $1 },
        .int("media.upload_url_seconds", 60...86_400) { $0.media.uploadURLSeconds = $1 },
        .int("media.download_url_seconds", 60...(7 * 86_400)) { $0.media.downloadURLSeconds = $1 },
        .int("media.abandoned_upload_hours", 1...(24 * 365)) { $0.media.abandonedUploadHours = $1 },
        .int("media.deleted_media_days", 1...3650) { $0.media.deletedMediaDays = $1 },
        .int("media.video_tool_seconds", 1...3600) { $0.media.videoToolSeconds = $1 },
        .string("admin.socket") { $0.admin.socket = $1 },
        .string("backup.directory") { $0.backup.directory = $1 },
        .string("backup.time") { $0.backup.time = $1 },
        .int("backup.keep", 1...365) { $0.backup.keep = $1 },
        .string("backup.post_command") { $0.backup.postCommand = $1 },
        .string("backup.wal_directory") { $0.backup.walDirectory = $1 },
        .int("backup.ship_seconds", 1...3600) { $0.backup.shipSeconds = $1 },
        .bool("metrics.enabled") { $0.metrics.enabled = $1 },
        .string("metrics.host") { $0.metrics.host = $1 },
        .int("metrics.port", 0...65535) { $0.metrics.port = $1 },
        .string("alerts.webhook_url") { $0.alerts.webhookURL = $1 },
        .int("alerts.cpu_percent", 1...100) { $0.alerts.cpuPercent = $1 },
        .int("alerts.memory_percent", 1...100) { $0.alerts.memoryPercent = $1 },
        .int("alerts.error_rate_percent", 1...100) { $0.alerts.errorRatePercent = $1 },
        .int("alerts.backup_max_age_hours", 1...(24 * 30)) { $0.alerts.backupMaxAgeHours = $1 },
        .int("alerts.interval_seconds", 5...3600) { $0.alerts.intervalSeconds = $1 },
        .int("operations.disk_warning_percent", 1...100) { $0.operations.diskWarningPercent = $1 },
        .int("operations.disk_full_percent", 1...100) { $0.operations.diskFullPercent = $1 },
        .string("jobs.time_zone") { $0.jobs.timeZone = $1 },
        .string("jobs.cleanup_time") { $0.jobs.cleanupTime = $1 },
        .choice("log.level", logLevels) { $0.log.level = $1 },
        .choice("log.format", ["logfmt", "json"]) { $0.log.format = $1 },
    ] + jobQueues + logSubsystems

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `log.http = "debug"` and the like, for each subsystem; "" follows `log.level`.
    static let logSubsystems: [ConfigKey] = ChatConfig.Log.subsystemNames.map { name in
        .choice("log.\(name)", [""] + logLevels) { $0.log.subsystems[name] = $1.isEmpty ? nil : $1 }
    }
}
