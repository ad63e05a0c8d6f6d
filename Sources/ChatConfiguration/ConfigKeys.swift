import ChatCore
import ChatJobs
import ChatPush
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
    /// The value in effect, as TOML writes it (for `chatctl config show`).
    let read: @Sendable (ChatConfig) -> String

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
    static func string(_ path: String, _ field: WritableKeyPath<ChatConfig, String> & Sendable) -> ConfigKey {
        ConfigKey(path: path, kind: .string, apply: { $0[keyPath: field] = $1.string }, read: { quoted($0[keyPath: field]) })
    }

    static func int(_ path: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<ChatConfig, Int> & Sendable)
        -> ConfigKey
    {
        ConfigKey(path: path, kind: .int(range), apply: { $0[keyPath: field] = $1.int }, read: { "\($0[keyPath: field])" })
    }

    /// A byte count held as Int64.
    static func bytes(_ path: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<ChatConfig, Int64> & Sendable)
        -> ConfigKey
    {
        ConfigKey(
            path: path, kind: .int(range), apply: { $0[keyPath: field] = Int64($1.int) },
            read: { "\($0[keyPath: field])" })
    }

    static func bool(_ path: String, _ field: WritableKeyPath<ChatConfig, Bool> & Sendable) -> ConfigKey {
        ConfigKey(path: path, kind: .bool, apply: { $0[keyPath: field] = $1.bool }, read: { "\($0[keyPath: field])" })
    }

    static func choice(
        _ path: String, _ choices: [String], _ field: WritableKeyPath<ChatConfig, String> & Sendable
    ) -> ConfigKey {
        ConfigKey(
            path: path, kind: .choice(choices), apply: { $0[keyPath: field] = $1.string },
            read: { quoted($0[keyPath: field]) })
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    /// `jobs.<queue>.concurrency` and the rest of a queue's policy, for each of chatd's queues.
    static let jobQueues: [ConfigKey] = Job.Queue.all.flatMap { queue -> [ConfigKey] in
        func policy(_ name: String, _ range: ClosedRange<Int>, _ field: WritableKeyPath<QueuePolicy, Int> & Sendable)
            -> ConfigKey
        {
            ConfigKey(
                path: "jobs.\(queue).\(name)", kind: .int(range),
                apply: { config, value in
                    config.jobs.queues[queue, default: QueuePolicy.defaults[queue]!][keyPath: field] = value.int
                },
                read: { config in "\((config.jobs.queues[queue] ?? QueuePolicy.defaults[queue]!)[keyPath: field])" })
        }
        return [
            policy("concurrency", 1...256, \.concurrency),
            policy("attempts", 1...100, \.maxAttempts),
            policy("backoff_seconds", 1...86_400, \.backoffSeconds),
            policy("max_backoff_seconds", 1...604_800, \.maxBackoffSeconds),
            policy("lease_seconds", 5...86_400, \.leaseSeconds),
            policy("gather_ms", 0...10_000, \.gatherMillis),
        ]
    }

    static let all: [ConfigKey] = [
        .string("server.host", \.server.host),
        .int("server.port", 0...65535, \.server.port),
        .bool("server.allow_plain_http", \.server.allowPlainHTTP),
        .string("tls.certificate", \.tls.certificate),
        .string("tls.key", \.tls.key),
        .int("tls.redirect_port", 0...65535, \.tls.redirectPort),
        .string("tls.acme_webroot", \.tls.acmeWebroot),
        .int("tls.hsts_seconds", 0...(2 * 31_536_000), \.tls.hstsSeconds),
        .int("http.idle_timeout_seconds", 1...3600, \.http.idleTimeoutSeconds),
        .int("http.request_head_timeout_seconds", 1...600, \.http.requestHeadTimeoutSeconds),
        .int("http.request_body_timeout_seconds", 1...3600, \.http.requestBodyTimeoutSeconds),
        .int("http.request_body_min_bytes_per_second", 1...(1 << 30), \.http.requestBodyMinBytesPerSecond),
        .int("http.max_header_bytes", 1024...(1 << 20), \.http.maxHeaderBytes),
        .int("http.max_header_count", 8...10_000, \.http.maxHeaderCount),
        .string("storage.data_dir", \.storage.dataDirectory),
        ConfigKey(
            path: "storage.synchronous", kind: .choice(Durability.allCases.map(\.rawValue)),
            apply: { $0.storage.durability = Durability(rawValue: $1.string) ?? .full },
            read: { quoted($0.storage.durability.rawValue) }),
        .string("auth.jwt_secret", \.auth.jwtSecret),
        .int("auth.access_token_seconds", 60...86_400, \.auth.accessTokenSeconds),
        .int("auth.refresh_token_seconds", 300...(366 * 86_400), \.auth.refreshTokenSeconds),
        .int("auth.bcrypt_cost", 4...16, \.auth.bcryptCost),
        .string("auth.api_key", \.auth.apiKey),
        .string("auth.media_url_secret", \.auth.mediaURLSecret),
        .string("otp.webhook_url", \.otp.webhookURL),
        .int("otp.code_seconds", 30...3600, \.otp.codeSeconds),
        .int("otp.max_attempts", 1...20, \.otp.maxAttempts),
        .int("otp.requests_per_hour", 1...1000, \.otp.requestsPerHour),
        .string("external_auth.issuer", \.external.issuer),
        .string("external_auth.audience", \.external.audience),
        .choice("external_auth.algorithm", ["HS256", "RS256", "ES256"], \.external.algorithm),
        .string("external_auth.secret", \.external.secret),
        .string("external_auth.public_key_file", \.external.publicKeyFile),
        .int("limits.max_body_bytes", 1024...(16 << 20), \.limits.maxBodyBytes),
        .int("limits.max_message_bytes", 16...65_536, \.limits.maxMessageBytes),
        .int("limits.max_group_members", 2...100_000, \.limits.maxGroupMembers),
        .int("limits.auth_requests_per_minute", 1...1_000_000, \.limits.authRequestsPerMinute),
        .int("limits.messages_per_minute", 1...1_000_000, \.limits.messagesPerMinute),
        .int("realtime.heartbeat_seconds", 1...600, \.realtime.heartbeatSeconds),
        .int("realtime.timeout_seconds", 2...3600, \.realtime.timeoutSeconds),
        .int("realtime.reauth_grace_seconds", 1...3600, \.realtime.reauthGraceSeconds),
        .int("realtime.hello_timeout_seconds", 1...300, \.realtime.helloTimeoutSeconds),
        .int("realtime.max_frame_bytes", 1024...(16 << 20), \.realtime.maxFrameBytes),
        .int("realtime.frames_per_second", 1...100_000, \.realtime.framesPerSecond),
        .int("realtime.frame_burst", 1...100_000, \.realtime.frameBurst),
        .int("realtime.user_frames_per_second", 1...1_000_000, \.realtime.userFramesPerSecond),
        .int("realtime.max_connections_per_user", 1...10_000, \.realtime.maxConnectionsPerUser),
        .int("realtime.max_connections_per_ip", 1...1_000_000, \.realtime.maxConnectionsPerIP),
        .int("realtime.max_outbound_bytes", 16_384...(64 << 20), \.realtime.maxOutboundBytes),
        .int("events.retention_days", 1...3650, \.events.retentionDays),
        .bytes("media.max_image_bytes", 1024...(1 << 31), \.media.maxImageBytes),
        .bytes("media.max_video_bytes", 1024...(1 << 34), \.media.maxVideoBytes),
        .bytes("media.max_file_bytes", 1024...(1 << 34), \.media.maxFileBytes),
        .bytes("media.user_quota_bytes", 1024...(1 << 40), \.media.userQuotaBytes),
        .int("media.max_pixels", 1...1_000_000_000, \.media.maxPixels),
        .int("media.display_size", 64...8192, \.media.displaySize),
        .int("media.thumbnail_size", 16...2048, \.media.thumbnailSize),
        .int("media.max_attachments", 1...100, \.media.maxAttachments),
        .int("media.upload_url_seconds", 60...86_400, \.media.uploadURLSeconds),
        .int("media.download_url_seconds", 60...(7 * 86_400), \.media.downloadURLSeconds),
        .int("media.abandoned_upload_hours", 1...(24 * 365), \.media.abandonedUploadHours),
        .int("media.deleted_media_days", 1...3650, \.media.deletedMediaDays),
        .int("media.video_tool_seconds", 1...3600, \.media.videoToolSeconds),
        .choice("push.preview", PushPreview.allCases.map(\.rawValue), \.push.preview),
        .int("push.ttl_seconds", 0...(28 * 86_400), \.push.ttlSeconds),
        .string("push.ca_file", \.push.caFile),
        .string("push.fcm.service_account_file", \.push.fcm.serviceAccountFile),
        .string("push.fcm.url", \.push.fcm.url),
        .string("push.fcm.token_url", \.push.fcm.tokenURL),
        .string("push.apns.key_file", \.push.apns.keyFile),
        .string("push.apns.key_id", \.push.apns.keyId),
        .string("push.apns.team_id", \.push.apns.teamId),
        .string("push.apns.url", \.push.apns.url),
        .string("push.apns.sandbox_url", \.push.apns.sandboxURL),
        .string("push.webpush.vapid_private_key", \.push.webPush.vapidPrivateKey),
        .string("push.webpush.subject", \.push.webPush.subject),
        .string("push.webpush.allowed_hosts", \.push.webPush.allowedHosts),
        .string("admin.socket", \.admin.socket),
        .string("backup.directory", \.backup.directory),
        .string("backup.time", \.backup.time),
        .int("backup.keep", 1...365, \.backup.keep),
        .string("backup.post_command", \.backup.postCommand),
        .string("backup.wal_directory", \.backup.walDirectory),
        .int("backup.ship_seconds", 1...3600, \.backup.shipSeconds),
        .bool("metrics.enabled", \.metrics.enabled),
        .string("metrics.host", \.metrics.host),
        .int("metrics.port", 0...65535, \.metrics.port),
        .string("alerts.webhook_url", \.alerts.webhookURL),
        .int("alerts.cpu_percent", 1...100, \.alerts.cpuPercent),
        .int("alerts.memory_percent", 1...100, \.alerts.memoryPercent),
        .int("alerts.error_rate_percent", 1...100, \.alerts.errorRatePercent),
        .int("alerts.backup_max_age_hours", 1...(24 * 30), \.alerts.backupMaxAgeHours),
        .int("alerts.interval_seconds", 5...3600, \.alerts.intervalSeconds),
        .int("operations.disk_warning_percent", 1...100, \.operations.diskWarningPercent),
        .int("operations.disk_full_percent", 1...100, \.operations.diskFullPercent),
        .string("jobs.time_zone", \.jobs.timeZone),
        .string("jobs.cleanup_time", \.jobs.cleanupTime),
        .choice("log.level", logLevels, \.log.level),
        .choice("log.format", ["logfmt", "json"], \.log.format),
    ] + jobQueues + logSubsystems

    static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    /// `log.http = "debug"` and the like, for each subsystem; "" follows `log.level`.
    static let logSubsystems: [ConfigKey] = ChatConfig.Log.subsystemNames.map { name in
        ConfigKey(
            path: "log.\(name)", kind: .choice([""] + logLevels),
            apply: { $0.log.subsystems[name] = $1.string.isEmpty ? nil : $1.string },
            read: { quoted($0.log.subsystems[name] ?? "") })
    }
}
