import ChatAdmin
import ChatCore
import ChatJobs
import ChatMedia
import ChatRealtime
import Foundation
import Hummingbird

/// The admin API `chatctl` calls, served only on the Unix socket (`AdminServer`): the daemon's status and the job
/// queue's operations. Its paths and bodies are `ChatAdmin`'s.
struct AdminRoutes {
    let services: ChatServices
    let gateway: RealtimeGateway
    let jobs: JobRunner
    let alerts: AlertMonitor
    let startedAt: Millis

    func register(on router: Router<ChatRequestContext>) {
        router.get(RouterPath(AdminAPI.status), use: status)
        router.get(RouterPath(AdminAPI.jobs), use: listJobs)
        router.get("v1/jobs/{id}", use: showJob)
        router.post("v1/jobs/{id}/retry", use: retryJob)
        router.post(RouterPath(AdminAPI.purgeDeadJobs), use: purgeDead)
        router.get(RouterPath(AdminAPI.queues), use: queues)
        router.post("v1/queues/{queue}/pause", use: pause)
        router.post("v1/queues/{queue}/resume", use: resume)
    }

    @Sendable func status(_ request: Request, context: ChatRequestContext) async throws -> StatusReport {
        let now = Clock.nowMillis()
        let queues = try await queueStatus()
        let sizes = services.store.fileSizes()
        let disk = DiskStatus.of(services.config.storage.dataDirectory)
        // Since midnight in the configured time zone (`jobs.time_zone`), the day `chatctl stats` counts too.
        let today = try await services.store.messageCount(since: services.usage.calendar.day(of: now).startsAt)
        let firing = alerts.firing
        let process = ProcessFigures.now()
        let push = services.pushSender.report()
        return StatusReport(
            version: ChatdVersion.current, startedAt: startedAt, uptimeSeconds: (now - startedAt) / 1000,
            connections: gateway.openConnections, usersOnline: gateway.usersOnline, messagesToday: today,
            queues: queues, disk: disk, walBytes: sizes.wal, databaseBytes: sizes.database,
            warnings: Self.warnings(disk: disk, queues: queues, warningPercent: services.settings.current.operations.diskWarningPercent)
                + firing.filter { !["disk_full", "jobs_failed", "push_failing"].contains($0.name) }.map(\.summary)
                + push.filter { $0.state == "failing" }.map {
                    "push to \($0.platform) is failing (\($0.reason ?? "")): one notification is tried every 5 minutes; check [push] (chatctl check)"
                },
            alerts: firing.map(\.name), openFiles: process.openFiles, maxOpenFiles: process.maxFiles,
            imageLoadersRestricted: ImageProcessor.loadersRestricted, push: push)
    }

    /// What an operator should look at now, each with what to do about it.
    static func warnings(disk: DiskStatus, queues: [QueueStatus], warningPercent: Int) -> [String] {
        var warnings: [String] = []
        if disk.usedFraction * 100 > Double(warningPercent) {
            warnings.append(
                "the disk holding \(disk.path) is \(Int(disk.usedFraction * 100)) % full: free space or grow the disk")
        }
        for queue in queues where queue.depth.dead > 0 {
            warnings.append(
                "\(queue.depth.dead) dead job(s) in queue \(queue.depth.queue): see `chatctl jobs list --state dead`, then retry or purge")
        }
        for queue in queues where queue.depth.paused {
            warnings.append("queue \(queue.depth.queue) is paused: `chatctl jobs resume \(queue.depth.queue)`")
        }
        return warnings
    }

    struct JobsResponse: ResponseEncodable {
        var jobs: [JobRecord]
    }

    @Sendable func listJobs(_ request: Request, context: ChatRequestContext) async throws -> JobsResponse {
        var state: JobState?
        if let raw = request.uri.queryParameters.get("state") {
            guard let parsed = JobState(rawValue: raw) else {
                throw ChatError.invalid("state must be one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        let limit = try Validate.limit(try request.query("limit", as: Int.self), default: 100, max: 10_000)
        let queue: String? = request.uri.queryParameters.get("queue").map { String($0) }
        return JobsResponse(jobs: try await jobs.jobs(queue: queue, state: state, limit: limit))
    }

    struct JobResponse: ResponseEncodable {
        var job: JobRecord
    }

    @Sendable func showJob(_ request: Request, context: ChatRequestContext) async throws -> JobResponse {
        let id = try context.parameters.id("id", "job")
        guard let job = try await jobs.job(id) else { throw ChatError.notFound("job \(id)") }
        return JobResponse(job: job)
    }

    @Sendable func retryJob(_ request: Request, context: ChatRequestContext) async throws -> JobResponse {
        let id = try context.parameters.id("id", "job")
        guard try await jobs.retry(id), let job = try await jobs.job(id) else {
            throw ChatError(.conflict, "job \(id) is neither dead nor waiting for its time (running or due jobs run anyway), or does not exist")
        }
        return JobResponse(job: job)
    }

    @Sendable func purgeDead(_ request: Request, context: ChatRequestContext) async throws -> PurgeResult {
        let queue: String? = request.uri.queryParameters.get("queue").map { String($0) }
        return PurgeResult(purged: try await jobs.purgeDead(queue: queue))
    }

    struct QueuesResponse: ResponseEncodable {
        var queues: [QueueStatus]
    }

    @Sendable func queues(_ request: Request, context: ChatRequestContext) async throws -> QueuesResponse {
        QueuesResponse(queues: try await queueStatus())
    }

    @Sendable func pause(_ request: Request, context: ChatRequestContext) async throws -> QueuesResponse {
        try await jobs.pause(context.parameters.get("queue") ?? "")
        return QueuesResponse(queues: try await queueStatus())
    }

    @Sendable func resume(_ request: Request, context: ChatRequestContext) async throws -> QueuesResponse {
        try await jobs.resume(context.parameters.get("queue") ?? "")
        return QueuesResponse(queues: try await queueStatus())
    }

    private func queueStatus() async throws -> [QueueStatus] {
        try await jobs.figures().map {
            QueueStatus(
                depth: $0.depth, completed: $0.counters.completed, failedAttempts: $0.counters.failedAttempts,
                buried: $0.counters.buried)
        }
    }
}

extension StatusReport: ResponseEncodable {}
extension PurgeResult: ResponseEncodable {}
