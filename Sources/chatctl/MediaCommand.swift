import ArgumentParser
import ChatAdmin
import Foundation

struct MediaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media", abstract: "Uploaded media: how much there is; the cleanup pass, now.",
        subcommands: [Stats.self, GC.self], defaultSubcommand: Stats.self)

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Media by kind and status, and the folder's size.")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().get(AdminAPI.mediaStats, as: MediaReport.self)
                if daemon.json { return Output.json(report) }
                Output.table(
                    ["KIND", "STATUS", "COUNT", "BYTES"],
                    report.kinds.map { [$0.kind.rawValue, $0.status.rawValue, "\($0.count)", Output.bytes($0.bytes)] })
                print("media folder: \(Output.bytes(report.folderBytes)) on disk, \(Output.bytes(report.diskFreeBytes)) free")
            }
        }
    }

    struct GC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Run the media cleanup now: unfinished uploads, unused media, leftovers; report strays.")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().post(AdminAPI.mediaGC, as: CleanupReport.self)
                if daemon.json { return Output.json(report) }
                print("removed \(report.abandonedUploads) unfinished upload(s), \(report.purgedMedia) unused media, \(report.staleWorkingFiles) half-written file(s); \(report.purgedTexts) notification(s) of deleted messages")
                for path in report.filesWithoutRecords { print("no record for file \(path)") }
                for id in report.recordsWithoutFiles { print("media \(id) has no file on disk") }
            }
        }
    }
}
