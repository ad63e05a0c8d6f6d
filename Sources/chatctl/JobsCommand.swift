import ArgumentParser
import ChatAdmin
import ChatCore
import Foundation

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "The background job queue: list, show, retry or purge jobs; pause or resume a queue.",
        subcommands: [List.self, Show.self, Retry.self, Purge.self, Pause.self, Resume.self, Queues.self],
        defaultSubcommand: Queues.self)

    struct JobsBody: Codable { var jobs: [JobRecord] }
    struct JobBody: Codable { var job: JobRecord }
    struct QueuesBody: Codable { var queues: [QueueStatus] }

    static func printJobs(_ jobs: [JobRecord]) {
        Output.table(
            ["ID", "QUEUE", "KIND", "STATE", "ATTEMPTS", "KEY", "LAST ERROR"],
            jobs.map { [
                "\($0.id)", $0.queue, $0.kind, $0.state.rawValue, "\($0.attempts)", $0.key ?? "-",
                String(($0.lastError ?? "-").prefix(80)),
            ] })
    }

    static func printQueues(_ queues: [QueueStatus]) {
        Output.table(
            ["QUEUE", "READY", "DELAYED", "RUNNING", "DEAD", "STATE"],
            queues.map { [
                $0.depth.queue, "\($0.depth.ready)", "\($0.depth.delayed)", "\($0.depth.running)", "\($0.depth.dead)",
                $0.depth.paused ? "paused" : "running",
            ] })
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, oldest first.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Only this queue (media, notify, push, cleanup).") var queue: String?
        @Option(help: "Only jobs in this state (ready, running, dead).") var state: JobState?
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            try await chatctl.run {
                var query = ["limit=\(limit)"]
                if let queue { query.append("queue=\(queue)") }
                if let state { query.append("state=\(state.rawValue)") }
                let body = try await daemon.client().get(AdminAPI.jobs + "?" + query.joined(separator: "&"), as: JobsBody.self)
                if daemon.json { return Output.json(body) }
                printJobs(body.jobs)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job with its payload and last error.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The job's id.") var id: Int64

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().get(AdminAPI.job(id), as: JobBody.self)
                if daemon.json { return Output.json(body) }
                let job = body.job
                print("job \(job.id): \(job.kind) on queue \(job.queue), \(job.state.rawValue), \(job.attempts) attempt(s)")
                print("enqueued \(Output.time(job.createdAt)); \(job.state == .running ? "lease ends" : "due") \(Output.time(job.availableAt))")
                if let key = job.key { print("key: \(key)") }
                print("payload: \(job.payload)")
                if let error = job.lastError { print("last error: \(error)") }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a dead job a fresh set of attempts, or run a job waiting for its time (a retry) now.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The job's id.") var id: Int64

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.retryJob(id), as: JobBody.self)
                if daemon.json { return Output.json(body) }
                print("job \(id) is ready again")
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete dead jobs (of one queue, or all).")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Only this queue.") var queue: String?

        func run() async throws {
            try await chatctl.run {
                let path = AdminAPI.purgeDeadJobs + (queue.map { "?queue=\($0)" } ?? "")
                let body = try await daemon.client().post(path, as: PurgeResult.self)
                if daemon.json { return Output.json(body) }
                print("purged \(body.purged) dead job(s)")
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop leasing a queue's jobs (kept across restarts).")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The queue.") var queue: String

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.pause(queue), as: QueuesBody.self)
                if daemon.json { return Output.json(body) }
                printQueues(body.queues)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lease a paused queue's jobs again.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The queue.") var queue: String

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.resume(queue), as: QueuesBody.self)
                if daemon.json { return Output.json(body) }
                printQueues(body.queues)
            }
        }
    }

    struct Queues: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each queue's depth and state (the default).")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().get(AdminAPI.queues, as: QueuesBody.self)
                if daemon.json { return Output.json(body) }
                printQueues(body.queues)
            }
        }
    }
}

extension JobState: ExpressibleByArgument {}
