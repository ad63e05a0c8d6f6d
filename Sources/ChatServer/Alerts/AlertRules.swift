import ChatCore

/// What the alert rules look at, gathered once per evaluation.
struct AlertInputs: Sendable, Equatable {
    /// Share of the machine's CPUs this process used since the last evaluation (0...100).
    var cpuPercent: Double
    /// Resident memory against the machine's memory (0...100).
    var memoryPercent: Double
    var diskPercent: Double
    /// 5xx responses against all responses over the last five minutes (0...100), and how many responses that was.
    var errorRatePercent: Double
    var requests: Int
    /// Jobs that failed their last attempt and wait in a dead-letter list.
    var deadJobs: Int
    /// When the newest snapshot completed (nil: none yet), and whether daily snapshots are scheduled.
    var lastBackupAt: Millis?
    var backupsScheduled: Bool
    var postCommandFailure: String?
    /// Days until the served certificate expires (nil: no TLS).
    var certificateDaysLeft: Int?
    var now: Millis
    /// Push vendors whose credentials fail, each as "platform (reason)".
    var failingPush: [String] = []
}

/// One rule's verdict.
struct Alert: Sendable, Equatable, Codable {
    var name: String
    var summary: String
}

/// The original design's CloudWatch alarms, as one function of the inputs: CPU > 80 %, memory > 85 %, disk > 80 %,
/// error rate > 1 %, failed jobs, no successful backup in 26 h; and what chatd adds (a failing post-backup command,
/// a certificate about to expire, a push vendor refusing chatd's credentials). Thresholds come from `[alerts]` and
/// `[operations]`.
struct AlertRules: Sendable, Equatable {
    var cpuPercent = 80.0
    var memoryPercent = 85.0
    var diskPercent = 80.0
    var errorRatePercent = 1.0
    /// Fewer responses than this in five minutes are too few to call a rate.
    var minimumRequests = 20
    var backupMaxAgeHours = 26
    var certificateDays = 14

    static let names = [
        "cpu_high", "memory_high", "disk_full", "error_rate_high", "jobs_failed", "backup_missing",
        "backup_command_failed", "certificate_expiring", "push_failing",
    ]

    func evaluate(_ inputs: AlertInputs) -> [Alert] {
        var firing: [Alert] = []
        if inputs.cpuPercent > cpuPercent {
            firing.append(Alert(name: "cpu_high", summary: "CPU at \(Int(inputs.cpuPercent)) % (threshold \(Int(cpuPercent)) %)"))
        }
        if inputs.memoryPercent > memoryPercent {
            firing.append(
                Alert(name: "memory_high", summary: "memory at \(Int(inputs.memoryPercent)) % of the machine (threshold \(Int(memoryPercent)) %)"))
        }
        if inputs.diskPercent > diskPercent {
            firing.append(
                Alert(name: "disk_full", summary: "the data's disk is \(Int(inputs.diskPercent)) % full (threshold \(Int(diskPercent)) %): free space or grow the disk"))
        }
        if inputs.requests >= minimumRequests, inputs.errorRatePercent > errorRatePercent {
            firing.append(
                Alert(
                    name: "error_rate_high",
                    summary: "\(String(describing: (inputs.errorRatePercent * 10).rounded() / 10)) % of responses were server errors in the last 5 minutes (threshold \(Int(errorRatePercent)) %)"))
        }
        if inputs.deadJobs > 0 {
            firing.append(
                Alert(name: "jobs_failed", summary: "\(inputs.deadJobs) job(s) failed for good: chatctl jobs list --state dead"))
        }
        if inputs.backupsScheduled {
            let limit = Millis(backupMaxAgeHours) * 3_600_000
            if let last = inputs.lastBackupAt {
                if inputs.now - last > limit {
                    firing.append(
                        Alert(name: "backup_missing", summary: "no successful backup for \((inputs.now - last) / 3_600_000) h (threshold \(backupMaxAgeHours) h)"))
                }
            } else {
                firing.append(Alert(name: "backup_missing", summary: "no backup taken yet: chatctl backup create"))
            }
        }
        if let failure = inputs.postCommandFailure {
            firing.append(Alert(name: "backup_command_failed", summary: "the post-backup command failed (\(failure))"))
        }
        if let days = inputs.certificateDaysLeft, days < certificateDays {
            firing.append(
                Alert(name: "certificate_expiring", summary: "the TLS certificate expires in \(days) day(s): renew it, then chatctl cert import"))
        }
        if !inputs.failingPush.isEmpty {
            firing.append(
                Alert(
                    name: "push_failing",
                    summary: "push notifications are not sent to \(inputs.failingPush.joined(separator: ", ")): chatctl status, chatctl check"))
        }
        return firing
    }
}

/// Which alerts fire, and what changed at each evaluation: the notices to send.
struct AlertBook: Sendable, Equatable {
    enum Notice: Sendable, Equatable {
        case firing(Alert)
        case resolved(Alert)
    }

    private(set) var firing: [String: Alert] = [:]

    /// Takes this evaluation's verdicts; returns a notice for each alert that started or stopped firing.
    mutating func update(_ now: [Alert]) -> [Notice] {
        var notices: [Notice] = []
        let current = Dictionary(now.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for alert in now where firing[alert.name] == nil { notices.append(.firing(alert)) }
        for (name, alert) in firing.sorted(by: { $0.key < $1.key }) where current[name] == nil {
            notices.append(.resolved(alert))
        }
        firing = current
        return notices
    }
}
