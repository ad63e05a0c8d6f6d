import ArgumentParser
import ChatAdmin
import Foundation

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether chatd runs, and its connections, traffic, queues, disk and warnings.",
        discussion: "Exits 3 when chatd is not running.")

    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        let client = try daemon.client()
        let report: StatusReport
        do {
            report = try await client.get(AdminAPI.status, as: StatusReport.self)
        } catch let error as AdminClient.Unreachable {
            Output.error("chatd is not running (\(error.reason) on \(error.socket))")
            throw ExitCode(3)
        }
        if daemon.json { return Output.json(report) }
        print("chatd \(report.version), up \(Output.duration(seconds: report.uptimeSeconds)) (since \(Output.time(report.startedAt)))")
        print("connections \(report.connections), users online \(report.usersOnline), messages today \(report.messagesToday)")
        print("open files \(report.openFiles) of \(report.maxOpenFiles)")
        print(
            "disk \(report.disk.path): \(Output.bytes(report.disk.freeBytes)) free of \(Output.bytes(report.disk.totalBytes)) (\(Int(report.disk.usedFraction * 100)) % used); database \(Output.bytes(report.databaseBytes)), WAL \(Output.bytes(report.walBytes))"
        )
        print("")
        Output.table(
            ["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "OLDEST", "DONE", "FAILED", "STATE"],
            report.queues.map { queue in
                [
                    queue.depth.queue, "\(queue.depth.ready)", "\(queue.depth.delayed)", "\(queue.depth.running)",
                    "\(queue.depth.dead)", "\(queue.depth.oldestReadyAgeMillis / 1000)s", "\(queue.completed)",
                    "\(queue.failedAttempts)", queue.depth.paused ? "paused" : "running",
                ]
            })
        if report.push.contains(where: { $0.state != "off" }) {
            print("")
            Output.table(
                ["PUSH", "STATE", "SINCE", "SENT", "FAILED", "REASON"],
                report.push.map { provider in
                    [
                        provider.platform, provider.state, provider.since.map(Output.time) ?? "-", "\(provider.sent)",
                        "\(provider.failed)", provider.reason ?? "",
                    ]
                })
        }
        if !report.alerts.isEmpty {
            print("")
            print("ALERTS FIRING: \(report.alerts.joined(separator: ", "))")
        }
        if !report.warnings.isEmpty {
            print("")
            for warning in report.warnings { print("warning: \(warning)") }
        }
    }
}
