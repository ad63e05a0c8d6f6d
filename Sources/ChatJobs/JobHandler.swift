import ChatCore

/// Runs the jobs of one kind. A job may run more than once (its worker died after the work but before the job was
/// marked done), so a handler is idempotent: the second run finds the work done, or redoes it to the same result.
/// A handler whose effect is a store write finishes the job in that same transaction (the repositories take the
/// lease), so an effect that is durable is never applied again.
public protocol JobHandler: Sendable {
    /// One attempt. Throwing fails it; the runner retries it with backoff or, after the last attempt, buries it.
    func run(_ job: LeasedJob) async throws
    /// The job failed its last attempt (`error` says why) and is about to be dead: tell whoever waits for it. Called
    /// before the job is marked dead, so a crash in between calls it again; it must be idempotent too.
    func buried(_ job: LeasedJob, error: String) async
}

extension JobHandler {
    public func buried(_ job: LeasedJob, error: String) async {}
}

/// A handler that runs the jobs of one lease together: one read and one write for all of them, where each job that
/// succeeds is completed in that write (its effect and its end commit together). The runner writes nothing more for
/// the jobs that succeeded.
public protocol BatchJobHandler: JobHandler {
    /// The jobs of one lease. Returns the jobs that failed (by id), with why; every other job was completed.
    func run(batch jobs: [LeasedJob]) async -> [Int64: any Error]
}

extension BatchJobHandler {
    public func run(_ job: LeasedJob) async throws {
        if let error = await run(batch: [job])[job.lease.jobId] { throw error }
    }
}

/// A failure a handler reports, with what the operator (`chatctl jobs show`) and the job's owner should read.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
