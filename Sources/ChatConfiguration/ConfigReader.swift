import ChatCore
import ChatJobs
import Foundation
import TOMLKit

/// What is wrong with a configuration: every problem found, each naming its source (file or variable) and key.
public struct ConfigError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "\n") }

    public init(problems: [String]) {
        self.problems = problems
    }
}

/// The one configuration reader: the TOML file (if any), then `CHATD_*` environment overrides, then checks that
/// span keys. Without a file the result is the embedded development default.
public enum ConfigReader {
    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> ChatConfig
    {
        var config = ChatConfig()
        var problems: [String] = []
        if let file {
            config.isDevelopmentDefault = false
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try apply(toml: text, source: file, to: &config, problems: &problems)
            } catch let error as ConfigError {
                problems += error.problems
            } catch {
                problems.append("\(file): cannot read the file: \(error.localizedDescription)")
            }
        }
        applyEnvironment(environment, to: &config, problems: &problems)
        problems += check(config, source: file ?? "configuration")
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return config
    }

    static func apply(toml text: String, source: String, to config: inout ChatConfig, problems: inout [String])
        throws
    {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError(problems: [
                "\(source):\(error.source.begin.line):\(error.source.begin.column): \(error.description)"
            ])
        }
        var values: [(String, any TOMLValueConvertible)] = []
        flatten(table, prefix: "", into: &values)
        let keys = Dictionary(uniqueKeysWithValues: ConfigKey.all.map { ($0.path, $0) })
        for (path, value) in values {
            guard let key = keys[path] else {
                problems.append("\(source): unknown key '\(path)'")
                continue
            }
            switch convert(value, to: key) {
            case .success(let converted): key.apply(&config, converted)
            case .failure(let reason): problems.append("\(source): key '\(path)' \(reason)")
            }
        }
    }

    static func applyEnvironment(
        _ environment: [String: String], to config: inout ChatConfig, problems: inout [String]
    ) {
        let known = Set(ConfigKey.all.map(\.environmentName))
        for key in ConfigKey.all {
            guard let raw = environment[key.environmentName] else { continue }
            switch parse(raw, as: key) {
            case .success(let value): key.apply(&config, value)
            case .failure(let reason): problems.append("environment \(key.environmentName) \(reason)")
            }
        }
        for name in environment.keys.sorted() where name.hasPrefix("CHATD_") && !known.contains(name) {
            if name == "CHATD_CONFIG" { continue }
            problems.append("environment \(name) is not a chatd setting")
        }
    }

    /// Rules that involve more than one key, or the outside world.
    static func check(_ config: ChatConfig, source: String) -> [String] {
        var problems: [String] = []
        if !config.auth.jwtSecret.isEmpty, config.auth.jwtSecret.utf8.count < 32 {
            problems.append("\(source): key 'auth.jwt_secret' must be at least 32 bytes (or empty to generate one)")
        }
        if !config.auth.mediaURLSecret.isEmpty, config.auth.mediaURLSecret.utf8.count < 32 {
            problems.append("\(source): key 'auth.media_url_secret' must be at least 32 bytes (or empty to derive it)")
        }
        if !config.auth.apiKey.isEmpty, config.auth.apiKey.utf8.count < 24 {
            problems.append("\(source): key 'auth.api_key' must be at least 24 characters (or empty to disable)")
        }
        if !config.otp.webhookURL.isEmpty {
            let url = URL(string: config.otp.webhookURL)
            if url?.host == nil || !["http", "https"].contains(url?.scheme ?? "") {
                problems.append("\(source): key 'otp.webhook_url' must be an http or https URL")
            }
        }
        if config.realtime.timeoutSeconds <= config.realtime.heartbeatSeconds {
            problems.append(
                "\(source): key 'realtime.timeout_seconds' must be longer than 'realtime.heartbeat_seconds'")
        }
        if config.realtime.maxFrameBytes < config.limits.maxMessageBytes + 1024 {
            problems.append(
                "\(source): key 'realtime.max_frame_bytes' must be at least 'limits.max_message_bytes' + 1024")
        }
        let external = config.external
        if external.isEnabled {
            if external.audience.isEmpty {
                problems.append("\(source): key 'external_auth.audience' is required when 'external_auth.issuer' is set")
            }
            if external.algorithm == "HS256" {
                if external.secret.utf8.count < 32 {
                    problems.append("\(source): key 'external_auth.secret' must be at least 32 bytes for HS256")
                }
            } else if external.publicKeyFile.isEmpty {
                problems.append(
                    "\(source): key 'external_auth.public_key_file' is required for \(external.algorithm)")
            } else if !FileManager.default.isReadableFile(atPath: external.publicKeyFile) {
                problems.append(
                    "\(source): key 'external_auth.public_key_file': cannot read \(external.publicKeyFile)")
            }
        }
        if config.limits.maxMessageBytes * 2 > config.limits.maxBodyBytes {
            problems.append(
                "\(source): key 'limits.max_body_bytes' must be at least twice 'limits.max_message_bytes' "
                    + "(JSON escaping can double a text)")
        }
        problems += checkTLS(config, source: source)
        if config.media.thumbnailSize > config.media.displaySize {
            problems.append("\(source): key 'media.thumbnail_size' must not be larger than 'media.display_size'")
        }
        if let media = config.jobs.queues["media"], media.leaseSeconds < 2 * config.media.videoToolSeconds + 60 {
            // A lease must outlast an attempt (two ffmpeg runs and libvips), or the job would run twice at once.
            problems.append(
                "\(source): key 'jobs.media.lease_seconds' must be at least twice 'media.video_tool_seconds' plus 60")
        }
        if !config.backup.time.isEmpty,
            DailySchedule(name: "backup", time: config.backup.time, timeZone: .gmt, job: .dailyCleanup) == nil
        {
            problems.append("\(source): key 'backup.time' must be a time of day as \"HH:MM\" (24-hour clock), or empty")
        }
        if !config.alerts.webhookURL.isEmpty {
            let url = URL(string: config.alerts.webhookURL)
            if url?.host == nil || !["http", "https"].contains(url?.scheme ?? "") {
                problems.append("\(source): key 'alerts.webhook_url' must be an http or https URL")
            }
        }
        if TimeZone(identifier: config.jobs.timeZone) == nil {
            problems.append("\(source): key 'jobs.time_zone' must be an IANA time zone name such as \"Europe/Berlin\"")
        }
        if DailySchedule(name: "cleanup", time: config.jobs.cleanupTime, timeZone: .gmt, job: .dailyCleanup) == nil {
            problems.append("\(source): key 'jobs.cleanup_time' must be a time of day as \"HH:MM\" (24-hour clock)")
        }
        for (queue, policy) in config.jobs.queues.sorted(by: { $0.key < $1.key })
        where policy.maxBackoffSeconds < policy.backoffSeconds {
            problems.append(
                "\(source): key 'jobs.\(queue).max_backoff_seconds' must be at least 'jobs.\(queue).backoff_seconds'")
        }
        if config.adminSocketPath.utf8.count > 107 {
            problems.append(
                "\(source): the admin socket path '\(config.adminSocketPath)' is longer than a Unix socket allows "
                    + "(107 bytes): set 'admin.socket' to a shorter path")
        }
        if config.storage.dataDirectory.isEmpty {
            problems.append("\(source): key 'storage.data_dir' must not be empty")
        }
        return problems
    }

    private static func flatten(
        _ table: TOMLTable, prefix: String, into values: inout [(String, any TOMLValueConvertible)]
    ) {
        for (key, value) in table {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            if let subtable = value.table {
                flatten(subtable, prefix: path, into: &values)
            } else {
                values.append((path, value))
            }
        }
    }

    /// Every key with the value in effect, in the order `etc/chatd.toml` documents them; secrets shown as "(set)".
    public static func describe(_ config: ChatConfig) -> [(key: String, value: String)] {
        let secrets: Set<String> = ["auth.jwt_secret", "auth.api_key", "auth.media_url_secret", "external_auth.secret"]
        return ConfigKey.all.map { key in
            let value = key.read(config)
            return (key.path, secrets.contains(key.path) && value != "\"\"" ? "\"(set)\"" : value)
        }
    }

    /// TLS needs both files; without it, plain HTTP stays on loopback unless the operator says otherwise.
    static func checkTLS(_ config: ChatConfig, source: String) -> [String] {
        var problems: [String] = []
        let tls = config.tls
        if tls.certificate.isEmpty != tls.key.isEmpty {
            problems.append("\(source): keys 'tls.certificate' and 'tls.key' go together (set both, or neither)")
        }
        if !tls.isEnabled {
            if !config.server.allowPlainHTTP, !isLoopback(config.server.host) {
                problems.append(
                    "\(source): plain HTTP on \(config.server.host): set 'tls.certificate' and 'tls.key', or "
                        + "'server.allow_plain_http = true' behind a TLS proxy on a private network")
            }
            if tls.redirectPort != 0 {
                problems.append("\(source): key 'tls.redirect_port' redirects to HTTPS, which needs 'tls.certificate'")
            }
        }
        if tls.redirectPort != 0, tls.redirectPort == config.server.port {
            problems.append("\(source): key 'tls.redirect_port' must differ from 'server.port'")
        }
        if !tls.acmeWebroot.isEmpty, tls.redirectPort == 0 {
            problems.append("\(source): key 'tls.acme_webroot' is served by the redirect listener: set 'tls.redirect_port'")
        }
        return problems
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    private static func convert(_ value: any TOMLValueConvertible, to key: ConfigKey) -> Result<ConfigValue, Failure> {
        switch key.kind {
        case .string:
            guard let string = value.string else { return .failure(Failure("must be \(key.expectation)")) }
            return .success(.string(string))
        case .int(let range):
            guard let int = value.int else { return .failure(Failure("must be \(key.expectation)")) }
            guard range.contains(int) else { return .failure(Failure("must be \(key.expectation), got \(int)")) }
            return .success(.int(int))
        case .choice(let choices):
            guard let string = value.string, choices.contains(string) else {
                return .failure(Failure("must be \(key.expectation)"))
            }
            return .success(.string(string))
        case .bool:
            guard let bool = value.bool else { return .failure(Failure("must be \(key.expectation)")) }
            return .success(.bool(bool))
        }
    }

    private static func parse(_ raw: String, as key: ConfigKey) -> Result<ConfigValue, Failure> {
        switch key.kind {
        case .string:
            return .success(.string(raw))
        case .int(let range):
            guard let int = Int(raw.trimmingCharacters(in: .whitespaces)), range.contains(int) else {
                return .failure(Failure("must be \(key.expectation), got '\(raw)'"))
            }
            return .success(.int(int))
        case .choice(let choices):
            guard choices.contains(raw) else { return .failure(Failure("must be \(key.expectation), got '\(raw)'")) }
            return .success(.string(raw))
        case .bool:
            guard let bool = Bool(raw.lowercased()) else {
                return .failure(Failure("must be \(key.expectation), got '\(raw)'"))
            }
            return .success(.bool(bool))
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
