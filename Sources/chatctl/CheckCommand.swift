import ArgumentParser
import ChatAdmin
import ChatConfiguration
import ChatPush
import ChatStore
import Foundation
import ChatTLS
import GRDB

/// `chatctl check`: a doctor in the spirit of `prosodyctl check`. Each finding says what is wrong and what to do;
/// exit 1 when any is a problem. Works with or without a running daemon (what needs one says so).
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Look for problems in the configuration, the data, the disk and the daemon.")

    @OptionGroup var daemon: DaemonOptions

    struct Finding: Codable {
        enum Level: String, Codable { case ok, warning, problem }
        var check: String
        var level: Level
        var detail: String
        /// What to do about it (empty when fine).
        var fix: String
    }

    struct Report: Codable {
        var findings: [Finding]
        var problems: Int
        var warnings: Int
    }

    func run() async throws {
        var findings: [Finding] = []
        func add(_ check: String, _ level: Finding.Level, _ detail: String, fix: String = "") {
            findings.append(Finding(check: check, level: level, detail: detail, fix: fix))
        }
        let config: ChatConfig
        do {
            config = try ConfigReader.load(file: daemon.configFile)
            add("configuration", .ok, daemon.configFile.map { "\($0) is valid" } ?? "no file: the development default")
        } catch let error as ConfigError {
            add("configuration", .problem, "\(error)", fix: "correct the keys named above (etc/chatd.toml documents each)")
            return try finish(findings)
        }
        checkDataDirectory(config, add)
        checkDatabase(config, add)
        checkCertificate(config, add)
        checkBackups(config, add)
        checkTools(add)
        checkPush(config.push, add)
        await checkDaemon(config, add)
        try finish(findings)
    }

    private func checkDataDirectory(_ config: ChatConfig, _ add: (String, Finding.Level, String, String) -> Void) {
        let path = config.storage.dataDirectory
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return add("data directory", .problem, "\(path) does not exist", "create it, owned by the chatd user")
        }
        if !FileManager.default.isWritableFile(atPath: path) {
            add("data directory", .warning, "\(path) is not writable by this user", "run chatctl as root or chatd")
        }
        let disk = DiskStatus.of(path)
        guard disk.totalBytes > 0 else { return }
        let percent = Int(disk.usedFraction * 100)
        if percent >= config.operations.diskFullPercent {
            add("disk", .problem, "the disk holding \(path) is \(percent) % full; /readyz answers 503",
                "free space or grow the disk now: writes fail when it is full")
        } else if percent >= config.operations.diskWarningPercent {
            add("disk", .warning, "the disk holding \(path) is \(percent) % full", "free space or grow the disk")
        } else {
            add("disk", .ok, "\(percent) % used", "")
        }
    }

    private func checkDatabase(_ config: ChatConfig, _ add: (String, Finding.Level, String, String) -> Void) {
        let path = URL(fileURLWithPath: config.storage.dataDirectory).appendingPathComponent("db/chatd.sqlite").path
        guard FileManager.default.fileExists(atPath: path) else {
            return add("database", .ok, "none yet (chatd creates it at its first start)", "")
        }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.prepareDatabase { StoreDatabase.prepareConnection($0) }
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let answer = try queue.read { try String.fetchAll($0, sql: "PRAGMA quick_check") }
            if answer == ["ok"] {
                add("database", .ok, "\(path) passes SQLite's quick_check", "")
            } else {
                add("database", .problem, "\(path) is damaged: \(answer.prefix(3).joined(separator: "; "))",
                    "stop chatd and restore the latest backup (chatctl backup restore)")
            }
        } catch {
            add("database", .problem, "\(path) cannot be read: \(error)",
                "check its permissions; if it is damaged, restore the latest backup")
        }
        let wal = ((try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? NSNumber)?.int64Value ?? 0
        if wal > 256 << 20 {
            add("write-ahead log", .warning, "\(Output.bytes(wal)): checkpoints are falling behind",
                "look for a long-running reader (a backup, sqlite3 left open)")
        }
    }

    private func checkCertificate(_ config: ChatConfig, _ add: (String, Finding.Level, String, String) -> Void) {
        guard config.tls.isEnabled else {
            return add("tls", .ok, "off: plain HTTP on \(config.server.host) (behind a proxy that terminates TLS)", "")
        }
        do {
            let material = try TLSMaterial.load(certificate: config.tls.certificate, key: config.tls.key)
            let days = material.daysLeft()
            if material.notValidAfter < Date() {
                add("tls", .problem, "the certificate \(material.subject) expired on \(Output.time(Int64(material.notValidAfter.timeIntervalSince1970 * 1000)))",
                    "renew it (certbot renew), then chatctl cert import --cert … --key …")
            } else if days < 14 {
                add("tls", .warning, "the certificate \(material.subject) expires in \(days) day(s)",
                    "renew it (certbot renew), then chatctl cert import --cert … --key …")
            } else if material.isSelfSigned {
                add("tls", .warning, "\(material.subject) is self-signed (as the package's snakeoil certificate is, until a real one is imported): apps and browsers will not trust it",
                    "get one from Let's Encrypt: certbot certonly --webroot -w \(config.tls.acmeWebroot.isEmpty ? "<tls.acme_webroot>" : config.tls.acmeWebroot) -d <name>, then the deploy hook imports it (README, Installing on Debian)")
            } else {
                add("tls", .ok, "\(material.subject), matches its key, \(days) days left", "")
            }
        } catch {
            add("tls", .problem, "\(error)", "install a certificate and its key (chatctl cert import), or fix tls.certificate and tls.key")
        }
    }

    private func checkBackups(_ config: ChatConfig, _ add: (String, Finding.Level, String, String) -> Void) {
        let snapshots = (try? SnapshotFolder(directory: URL(fileURLWithPath: config.backupDirectory)).list()) ?? []
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        if let newest = snapshots.last {
            let hours = (now - newest.completedAt) / 3_600_000
            if hours >= Int64(config.alerts.backupMaxAgeHours) {
                add("backups", .warning, "the newest backup, \(newest.name), is \(hours) h old",
                    "see the log of the backup.daily job (chatctl jobs list --kind backup.daily); chatctl backup create")
            } else {
                add("backups", .ok, "\(snapshots.count) kept, the newest \(newest.name) (\(hours) h old)", "")
            }
            if let command = newest.postCommand, command.exitStatus != 0 {
                add("backups", .warning, "the post-backup command failed (exit \(command.exitStatus)): \(command.output.suffix(200))",
                    "fix backup.post_command; the snapshot itself is in \(config.backupDirectory)")
            }
        } else {
            add("backups", config.backup.time.isEmpty ? .warning : .ok,
                config.backup.time.isEmpty ? "none, and none scheduled" : "none yet; the first at \(config.backup.time)",
                config.backup.time.isEmpty ? "set [backup] time, or run chatctl backup create from cron" : "")
        }
        guard !config.backup.walDirectory.isEmpty else {
            return add("point-in-time recovery", .warning, "off: a restore goes back to the last snapshot only",
                "set [backup] wal_directory (another disk or a mounted remote folder)")
        }
        let archive = URL(fileURLWithPath: config.backup.walDirectory)
        if let span = try? WALArchive.span(of: archive) {
            let behind = (now - span.last) / 1000
            add("point-in-time recovery", .ok,
                "the WAL archive holds commits from \(Output.time(span.first)) to \(Output.time(span.last)) (\(behind) s ago), \(Output.bytes(span.bytes))",
                "")
        } else {
            add("point-in-time recovery", .warning, "nothing shipped to \(archive.path) yet",
                "is chatd running with this configuration? Is the folder writable by chatd?")
        }
    }

    private func checkTools(_ add: (String, Finding.Level, String, String) -> Void) {
        let found = ["/usr/bin/ffprobe", "/usr/bin/ffmpeg"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
        add("video", found ? .ok : .warning,
            found ? "ffprobe and ffmpeg found: videos get metadata and a poster"
                : "ffmpeg is not installed: videos are stored as plain attachments",
            found ? "" : "apt install ffmpeg, then restart chatd")
    }

    /// Each configured vendor's credentials, read and parsed as chatd will (nothing is sent; `chatctl push test`
    /// sends).
    private func checkPush(_ config: PushConfiguration, _ add: (String, Finding.Level, String, String) -> Void) {
        let credentials = PushCredentials.load(config)
        if credentials.fcm == nil, credentials.apns == nil, credentials.webPush == nil {
            return add("push", .ok, "off: no vendor configured ([push.fcm], [push.apns], [push.webpush])", "")
        }
        if !config.caFile.isEmpty, !FileManager.default.isReadableFile(atPath: config.caFile) {
            add("push", .problem, "push.ca_file \(config.caFile) cannot be read", "fix the path or its permissions")
        }
        switch credentials.fcm {
        case .success(let account)?:
            add("push fcm", .ok,
                "service account \(account.clientEmail) of project \(account.projectId), RSA \(account.key.keySizeInBits)-bit key \(account.privateKeyId)",
                "")
        case .failure(let error)?:
            add("push fcm", .problem, error.description, "download a new key (Firebase console → Project settings → Service accounts)")
        case nil: break
        }
        switch credentials.apns {
        case .success(let key)?:
            add("push apns", .ok, "P-256 key \(key.keyId) of team \(key.teamId)", "")
        case .failure(let error)?:
            add("push apns", .problem, error.description, "use the AuthKey_<key id>.p8 file, its key id and the team id from Apple's developer account")
        case nil: break
        }
        switch credentials.webPush {
        case .success(let key)?:
            add("push webpush", .ok, "VAPID public key \(key.publicKey), subject \(key.subject)", "")
        case .failure(let error)?:
            add("push webpush", .problem, error.description, "chatctl push vapid-keys makes a key pair")
        case nil: break
        }
    }

    private func checkDaemon(_ config: ChatConfig, _ add: (String, Finding.Level, String, String) -> Void) async {
        let client = daemon.socket.map(AdminClient.init) ?? AdminClient(socket: config.adminSocketPath)
        do {
            let status = try await client.get(AdminAPI.status, as: StatusReport.self)
            add("daemon", .ok, "chatd \(status.version) answers on \(client.socket)", "")
            let skew = abs(status.startedAt + status.uptimeSeconds * 1000 - Int64(Date().timeIntervalSince1970 * 1000))
            if skew > 5_000 { add("clock", .warning, "the daemon's clock and this one differ by \(skew / 1000) s", "check NTP") }
            for warning in status.warnings { add("daemon", .warning, warning, "") }
            if status.maxOpenFiles > 0 {
                // Each socket is a file; the design's 3,000 connections need several thousand with headroom.
                let needed = max(4096, status.connections * 2 + 1024)
                if status.maxOpenFiles < needed {
                    add("open files", .warning, "chatd may open \(status.maxOpenFiles) files, \(status.openFiles) open now",
                        "raise LimitNOFILE in the systemd unit to at least \(needed) (each WebSocket is one file)")
                } else {
                    add("open files", .ok, "\(status.openFiles) open of a limit of \(status.maxOpenFiles)", "")
                }
            }
            add("images", status.imageLoadersRestricted ? .ok : .problem,
                status.imageLoadersRestricted ? "libvips refuses every loader outside chatd's allow-list"
                    : "libvips accepts loaders outside chatd's allow-list (SVG, PDF, ImageMagick…)",
                status.imageLoadersRestricted ? "" : "upgrade chatd; report this as a bug")
        } catch {
            add("daemon", .warning, "chatd does not answer on \(client.socket): the checks above were made offline",
                "systemctl status chatd")
        }
    }

    private func finish(_ findings: [Finding]) throws {
        let problems = findings.filter { $0.level == .problem }.count
        let report = Report(findings: findings, problems: problems, warnings: findings.filter { $0.level == .warning }.count)
        if daemon.json {
            Output.json(report)
        } else {
            for finding in findings {
                print("\(finding.level == .ok ? "ok     " : finding.level == .warning ? "warning" : "PROBLEM") \(finding.check): \(finding.detail)")
                if !finding.fix.isEmpty { print("        → \(finding.fix)") }
            }
            print(problems == 0 ? "no problems found" : "\(problems) problem(s) found")
        }
        if problems > 0 { throw ExitCode(1) }
    }
}
