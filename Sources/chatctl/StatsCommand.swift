import ArgumentParser
import ChatAdmin
import Foundation

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Daily use (active users, messages, uploads, sessions, egress) and the headroom left.",
        discussion: """
            Days are in the server's time zone (jobs.time_zone). Headroom: connections against the open-file limit and \
            the memory below the memory alert's threshold; the disk's growth per day and the date it reaches \
            operations.disk_warning_percent at that rate.
            """)

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "How many days, today included (1 to 366).") var days = 7

    func validate() throws {
        guard (1...366).contains(days) else { throw ValidationError("--days must be from 1 to 366") }
    }

    func run() async throws {
        try await chatctl.run {
            let report = try await daemon.client().get(AdminAPI.stats + "?days=\(days)", as: StatsReport.self)
            if daemon.json { return Output.json(report) }
            Output.table(
                ["DAY", "ACTIVE USERS", "MESSAGES", "UPLOADS", "SESSIONS", "AVG SESSION", "EGRESS"],
                report.days.map { day in
                    [
                        day.day, "\(day.activeUsers)", "\(day.messages)", "\(day.uploads)", "\(day.sessions)",
                        day.averageSessionSeconds.map { Output.duration(seconds: Int64($0)) } ?? "-",
                        Output.bytes(day.egressBytes),
                    ]
                })
            print("")
            Self.printHeadroom(report.headroom)
        }
    }

    static func printHeadroom(_ room: Headroom) {
        let limit = room.maxConnections == room.connectionsByFiles ? "the open-file limit" : "memory"
        print("headroom")
        print("  connections  \(room.connections) now; room for about \(room.maxConnections) (limited by \(limit))")
        print("    files      limit \(room.maxOpenFiles): about \(room.connectionsByFiles) connections")
        print(
            "    memory     \(Output.bytes(room.residentBytes)) resident of \(Output.bytes(room.memoryBytes)); below \(room.memoryLimitPercent) % about \(room.connectionsByMemory) connections at \(Output.bytes(room.bytesPerConnection)) each (\(room.bytesPerConnectionMeasured ? "measured" : "typical"))"
        )
        let used = room.diskTotalBytes > 0 ? Int(Double(room.diskUsedBytes) * 100 / Double(room.diskTotalBytes)) : 0
        print("  disk         \(Output.bytes(room.diskUsedBytes)) used of \(Output.bytes(room.diskTotalBytes)) (\(used) %); warning at \(room.diskWarningPercent) %")
        switch (room.diskGrowthBytesPerDay, room.diskWarningDate, room.daysUntilDiskWarning) {
        case (_, let date?, let days?) where days <= 0:
            print("    already past the warning threshold (\(date)): free space or grow the disk")
        case (let growth?, let date?, let days?):
            print("    growing \(Output.bytes(Int64(growth)))/day: reaches \(room.diskWarningPercent) % around \(date) (in \(Int(days)) days)")
        case (let growth?, _, _):
            print("    growing \(Output.bytes(Int64(growth)))/day: not filling up")
        default:
            print("    growth per day: not known yet (needs an hour of samples)")
        }
    }
}
