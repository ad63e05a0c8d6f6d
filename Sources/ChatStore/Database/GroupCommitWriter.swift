import ChatCore
import Dispatch
import Foundation
import GRDB
import Synchronization

/// The single writer of the store, with group commit.
///
/// Writes queue up while a transaction is being written; the next transaction takes everything that is waiting.
/// So N concurrent senders cost one `COMMIT` (one fsync with `synchronous=FULL`) per batch instead of N.
///
/// Contract:
/// - A write that throws is undone alone and its caller gets the error; the others commit (see `commit`).
/// - A caller is answered only after the batch's `COMMIT` has returned. If the commit itself fails, every caller
///   of the batch gets that error and nothing of the batch is kept.
/// - Events appended by a batch's writes are handed to the `EventPublisher` after the commit, in cursor order, and
///   before any caller of the batch is answered: when a write returns, its events have been published. The jobs
///   they enqueued go to the `JobPublisher` the same way. A write that fails leaves neither.
/// - Batches run one at a time on one dispatch queue, so the event table's rowid (the cursor) grows in commit order.
final class GroupCommitWriter: Sendable {
    private let pool: DatabasePool
    private let queue = DispatchQueue(label: "chatd.store.writer", qos: .userInitiated)
    private let state = Mutex(State())
    private let publishers = Mutex<Publishers>(Publishers())
    /// Upper bound of writes in one transaction, so one huge burst still commits in bounded steps.
    private let maxBatch: Int
    /// Batch size from which the writer pauses `lingerMicroseconds` before taking the next batch. Below it (a quiet
    /// server) nothing waits. Measured with `chatbench store`: 64 senders go from ~33 to ~64 writes per commit.
    private let lingerAfter = 8
    private let lingerMicroseconds: UInt32 = 100
    /// Transactions committed and writes they carried, for metrics and benchmarks.
    let committedTransactions = Atomic<Int>(0)
    let committedWrites = Atomic<Int>(0)
    /// Told of each commit: how long the transaction took (BEGIN to COMMIT's return) and how many writes it carried.
    private let commitObserver = ObserverSlot<(Duration, Int)>()

    func observeCommits(_ observer: @escaping @Sendable (Duration, Int) -> Void) {
        commitObserver.set { observer($0.0, $0.1) }
    }

    struct Publishers {
        var events: (any EventPublisher)?
        var jobs: (any JobPublisher)?
    }

    private struct State {
        var pending: [PendingWrite] = []
        /// Work that runs between two transactions, before the next batch (`barrier`).
        var barriers: [@Sendable () -> Void] = []
        var draining = false
    }

    init(pool: DatabasePool, maxBatch: Int = 512) {
        self.pool = pool
        self.maxBatch = maxBatch
    }

    func setPublishers(_ change: (inout Publishers) -> Void) {
        publishers.withLock { change(&$0) }
    }

    /// Runs `work` inside the next group-committed transaction and returns its result once it is durable.
    func write<T: Sendable>(_ work: @escaping @Sendable (WriteContext) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            submit(work) { continuation.resume(with: $0) }
        }
    }

    /// Runs `work` inside the next group-committed transaction and calls `completion` on the writer's queue once it
    /// is durable (or failed). For hot paths whose caller is not a Task (a WebSocket send answered on its event
    /// loop): no Task is created or resumed. `completion` must only hand the result on, never block.
    func submit<T: Sendable>(
        _ work: @escaping @Sendable (WriteContext) throws -> T,
        completion: @escaping @Sendable (Result<T, any Error>) -> Void
    ) {
        let pending = PendingWrite { context in
            do {
                let value = try work(context)
                return .success { completion(.success(value)) }
            } catch {
                return .failure(error) { completion(.failure($0)) }
            }
        } fail: { error in
            completion(.failure(error))
        }
        let startDrain = state.withLock { state in
            state.pending.append(pending)
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDrain { queue.async { self.drain() } }
    }

    /// Runs `work` on the writer's queue between two transactions: no write commits while it runs. For what must see
    /// the log still (shipping the WAL, then checkpointing). Keep it short: every send waits for it.
    func barrier<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            enqueueBarrier { continuation.resume(with: Result { try work() }) }
        }
    }

    /// `barrier` for a caller on a thread of its own (which may wait for it).
    func enqueueBarrier(_ work: @escaping @Sendable () -> Void) {
        let startDrain = state.withLock { state in
            state.barriers.append(work)
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDrain { queue.async { self.drain() } }
    }

    private func drain() {
        var previousBatch = 0
        while true {
            for barrier in state.withLock({ state in defer { state.barriers = [] }; return state.barriers }) {
                barrier()
            }
            // Like PostgreSQL's commit_delay: when the last batch was busy, its writers are about to come back with
            // their next writes; a short pause lets them join this batch and share its fsync.
            if previousBatch >= lingerAfter { usleep(lingerMicroseconds) }
            // nil: nothing left to do (the next submit starts a drain); empty: only barriers arrived meanwhile.
            let taken: [PendingWrite]? = state.withLock { state in
                guard !state.pending.isEmpty else {
                    if !state.barriers.isEmpty { return [] }
                    state.draining = false
                    return nil
                }
                let count = min(state.pending.count, maxBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            guard let batch = taken else { return }
            if batch.isEmpty { continue }
            previousBatch = batch.count
            commit(batch)
        }
    }

    /// Commits a batch in one transaction. Writes run one after the other without savepoints (an FTS5 table
    /// flushes its pending index at every savepoint, which would cost more than the write itself). A write that
    /// fails before changing any row fails alone. One that fails after changing rows poisons the transaction: it is
    /// rolled back and run again without that write, whose caller gets its error.
    private func commit(_ batch: [PendingWrite]) {
        var remaining = batch
        let started = ContinuousClock.now
        while !remaining.isEmpty {
            var outcomes: [PendingWrite.Outcome] = []
            outcomes.reserveCapacity(remaining.count)
            var events: [Event] = []
            var jobs: [Job] = []
            var poisoned: (index: Int, outcome: PendingWrite.Outcome)?
            do {
                try pool.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        for (index, write) in remaining.enumerated() {
                            let context = WriteContext(db)
                            let changesBefore = db.totalChangesCount
                            let outcome = write.run(context)
                            switch outcome {
                            case .success:
                                events.append(contentsOf: context.events)
                                jobs.append(contentsOf: context.jobs)
                            case .failure where db.totalChangesCount != changesBefore:
                                poisoned = (index, outcome)
                                return .rollback
                            case .failure:
                                break
                            }
                            outcomes.append(outcome)
                        }
                        return .commit
                    }
                }
            } catch {
                for write in remaining { write.fail(error) }
                return
            }
            if let poisoned {
                poisoned.outcome.deliver()
                remaining.remove(at: poisoned.index)
                continue
            }
            committedTransactions.add(1, ordering: .relaxed)
            committedWrites.add(remaining.count, ordering: .relaxed)
            commitObserver((started.duration(to: .now), remaining.count))
            let publishers = publishers.withLock { $0 }
            if !events.isEmpty { publishers.events?.publish(events) }
            if !jobs.isEmpty { publishers.jobs?.publish(jobs) }
            for outcome in outcomes { outcome.deliver() }
            return
        }
    }
}

/// One queued write, type-erased. `run` executes on the writer queue inside the batch transaction and returns how to answer
/// the caller; the answer is delivered only after the commit.
private struct PendingWrite: Sendable {
    enum Outcome {
        case success(() -> Void)
        case failure(any Error, (any Error) -> Void)

        func deliver() {
            switch self {
            case .success(let resume): resume()
            case .failure(let error, let resume): resume(error)
            }
        }
    }

    let run: @Sendable (WriteContext) -> Outcome
    let fail: @Sendable (any Error) -> Void
}
