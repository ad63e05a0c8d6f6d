import ChatCore
import Testing

@testable import ChatJobs

/// The worker's decisions, driven with explicit events and times.
@Suite struct QueueDispatchTests {
    @Test func leasesAtStartUpToItsConcurrencyAndOneLeaseAtATime() {
        var dispatch = QueueDispatch(concurrency: 3)
        #expect(dispatch.handle(.enqueued, now: 0) == .lease(limit: 3))
        #expect(dispatch.handle(.enqueued, now: 0) == .none, "a lease is already under way")
        // The lease filled every slot: news that arrives now waits for a free one.
        #expect(dispatch.handle(.leased(count: 3, limit: 3, nextDueAt: 0), now: 0) == .none)
        #expect(dispatch.handle(.enqueued, now: 1) == .none)
        #expect(dispatch.handle(.finished(count: 1), now: 2) == .lease(limit: 1))
        #expect(dispatch.handle(.finished(count: 1), now: 2) == .none, "one lease at a time")
        #expect(dispatch.handle(.leased(count: 1, limit: 1, nextDueAt: 0), now: 2) == .lease(limit: 1))
    }

    @Test func aGatheringQueueLeasesTheJobsOfABusyMomentTogether() {
        var dispatch = QueueDispatch(concurrency: 64, gather: 20)
        #expect(dispatch.handle(.enqueued, now: 100) == .wake(at: 120))
        #expect(dispatch.handle(.enqueued, now: 105) == .none, "already gathering")
        #expect(dispatch.handle(.tick, now: 110) == .none)
        #expect(dispatch.handle(.gathered, now: 120) == .lease(limit: 64))
        #expect(dispatch.handle(.leased(count: 10, limit: 64, nextDueAt: nil), now: 121) == .none)
        // Jobs enqueued while others run gather again; a job that finishes meanwhile waits for the gathering too.
        #expect(dispatch.handle(.enqueued, now: 130) == .wake(at: 150))
        #expect(dispatch.handle(.finished(count: 1), now: 131) == .none)
        #expect(dispatch.handle(.gathered, now: 150) == .lease(limit: 55))
        // A batch handler's jobs finish as one event: one lease for the freed slots, not a lease of one first.
        #expect(dispatch.handle(.leased(count: 55, limit: 55, nextDueAt: nil), now: 151) == .none)
        #expect(dispatch.handle(.finished(count: 55), now: 160) == .lease(limit: 55))
        #expect(dispatch.handle(.leased(count: 0, limit: 55, nextDueAt: nil), now: 161) == .none)
        #expect(dispatch.handle(.finished(count: 9), now: 162) == .lease(limit: 64))
        // A paused queue gathers nothing, and leases at once when resumed.
        #expect(dispatch.handle(.leased(count: 0, limit: 64, nextDueAt: nil), now: 163) == .none)
        #expect(dispatch.handle(.paused(true), now: 164) == .none)
        #expect(dispatch.handle(.enqueued, now: 165) == .none)
        #expect(dispatch.handle(.paused(false), now: 166) == .lease(limit: 64))
    }

    @Test func aShortLeaseWaitsForNewsOrItsDueTime() {
        var dispatch = QueueDispatch(concurrency: 4)
        _ = dispatch.handle(.enqueued, now: 0)
        // Two leased, the rest not due before t=5000 (a retry backing off).
        #expect(dispatch.handle(.leased(count: 2, limit: 4, nextDueAt: 5000), now: 0) == .none)
        #expect(dispatch.handle(.tick, now: 1000) == .none)
        #expect(dispatch.handle(.tick, now: 4999) == .none)
        #expect(dispatch.handle(.tick, now: 5000) == .lease(limit: 2))
        #expect(dispatch.handle(.leased(count: 0, limit: 2, nextDueAt: nil), now: 5000) == .none)
        #expect(dispatch.handle(.tick, now: 9000) == .none, "an empty queue is not polled")
        #expect(dispatch.handle(.enqueued, now: 9001) == .lease(limit: 2))
    }

    @Test func aFinishedJobMayFreeTheNextOfItsKey() {
        var dispatch = QueueDispatch(concurrency: 2)
        _ = dispatch.handle(.enqueued, now: 0)
        // One job of key k leased; the next of k is due but blocked behind it.
        #expect(dispatch.handle(.leased(count: 1, limit: 2, nextDueAt: 0), now: 0) == .none)
        #expect(dispatch.handle(.finished(count: 1), now: 10) == .lease(limit: 2))
    }

    @Test func pausedLeasesNothingUntilResumed() {
        var dispatch = QueueDispatch(concurrency: 2)
        #expect(dispatch.handle(.paused(true), now: 0) == .none)
        #expect(dispatch.handle(.enqueued, now: 0) == .none)
        #expect(dispatch.handle(.tick, now: 60_000) == .none)
        #expect(dispatch.handle(.paused(false), now: 60_001) == .lease(limit: 2))
    }

    @Test func stopsOnceNothingIsInFlight() {
        var dispatch = QueueDispatch(concurrency: 2)
        _ = dispatch.handle(.enqueued, now: 0)
        _ = dispatch.handle(.leased(count: 2, limit: 2, nextDueAt: 0), now: 0)
        #expect(dispatch.handle(.stop, now: 1) == .none)
        #expect(!dispatch.isFinished)
        #expect(dispatch.handle(.finished(count: 1), now: 2) == .none, "no new lease while stopping")
        #expect(!dispatch.isFinished)
        _ = dispatch.handle(.finished(count: 1), now: 3)
        #expect(dispatch.isFinished)
    }

    @Test func aFailedLeaseIsTriedAgainAtTheNextTick() {
        var dispatch = QueueDispatch(concurrency: 1)
        _ = dispatch.handle(.enqueued, now: 0)
        #expect(dispatch.handle(.leaseFailed, now: 1) == .none)
        #expect(dispatch.handle(.tick, now: 1000) == .lease(limit: 1))
    }

    @Test func newsThatArrivesDuringALeaseIsNotLost() {
        var dispatch = QueueDispatch(concurrency: 2)
        #expect(dispatch.handle(.enqueued, now: 0) == .lease(limit: 2))
        // A job commits (and is published) while the lease is looking: the lease may not have seen it.
        #expect(dispatch.handle(.enqueued, now: 1) == .none)
        #expect(dispatch.handle(.leased(count: 0, limit: 2, nextDueAt: nil), now: 2) == .lease(limit: 2))
    }
}

@Suite struct QueuePolicyTests {
    let policy = QueuePolicy(concurrency: 1, maxAttempts: 4, backoffSeconds: 10, maxBackoffSeconds: 25, leaseSeconds: 60)

    @Test func backoffDoublesWithHalfOfItJittered() {
        #expect(policy.retryAt(afterAttempt: 1, now: 0, random: 0) == 5_000)
        #expect(policy.retryAt(afterAttempt: 1, now: 0, random: 0.999_999)! > 9_990)
        #expect(policy.retryAt(afterAttempt: 2, now: 0, random: 0) == 10_000)
        #expect(policy.retryAt(afterAttempt: 2, now: 0, random: 1) == 20_000)
        // Capped at max_backoff_seconds.
        #expect(policy.retryAt(afterAttempt: 3, now: 1_000, random: 1) == 26_000)
    }

    @Test func theLastAttemptHasNoRetry() {
        #expect(policy.retryAt(afterAttempt: 4, now: 0, random: 0.5) == nil)
        #expect(policy.retryAt(afterAttempt: 9, now: 0, random: 0.5) == nil)
    }
}
