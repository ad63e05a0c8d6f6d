import NIOCore
import Testing

@testable import ChatServer

/// The slow-client rules, driven with explicit times.
@Suite struct HTTPConnectionClockTests {
    let timeouts = HTTPTimeouts(idle: .seconds(60), head: .seconds(10), body: .seconds(20), bodyBytesPerSecond: 1000)

    func at(_ seconds: Int64) -> NIODeadline { .uptimeNanoseconds(1_000_000_000_000) + .seconds(seconds) }

    @Test func anOpenedConnectionHasTheIdleTimeThenTheHeadDeadlineFromItsFirstByte() {
        var clock = HTTPConnectionClock(timeouts: timeouts, openedAt: at(0))
        #expect(clock.deadline == at(60))
        #expect(clock.expired(at: at(59)) == nil)
        #expect(clock.expired(at: at(60)) == .close, "idle: closed without an answer")
        clock.bytesArrived(at: at(5))
        #expect(clock.deadline == at(15))
        clock.bytesArrived(at: at(9))
        #expect(clock.deadline == at(15), "more bytes of the same head do not extend it")
        #expect(clock.expired(at: at(15)) == .requestTimeout)
    }

    @Test func aBodyGetsTimeForWhatItCarries() {
        var clock = HTTPConnectionClock(timeouts: timeouts, openedAt: at(0))
        clock.bytesArrived(at: at(1))
        clock.headReceived(at: at(2))
        #expect(clock.deadline == at(22))
        clock.bodyReceived(bytes: 5000)
        #expect(clock.deadline == at(27), "five seconds more for 5,000 bytes at 1,000 per second")
        #expect(clock.expired(at: at(27)) == .requestTimeout)
    }

    @Test func answeringHasNoDeadlineUnlessTheClientStopsReading() {
        var clock = HTTPConnectionClock(timeouts: timeouts, openedAt: at(0))
        clock.bytesArrived(at: at(1))
        clock.headReceived(at: at(1))
        clock.requestEnded()
        #expect(clock.deadline == nil)
        #expect(clock.expired(at: at(10_000)) == nil, "the server's own time is not the client's fault")
        clock.writabilityChanged(writable: false, at: at(100))
        #expect(clock.deadline == at(160))
        #expect(clock.expired(at: at(160)) == .close)
        clock.writabilityChanged(writable: true, at: at(120))
        #expect(clock.deadline == nil)
        clock.responseEnded(at: at(130))
        #expect(clock.deadline == at(190), "idle again after the response")
    }

    @Test func aPipelinedRequestKeepsItsPhaseWhileTheOneBeforeIsAnswered() {
        var clock = HTTPConnectionClock(timeouts: timeouts, openedAt: at(0))
        clock.bytesArrived(at: at(0))
        clock.headReceived(at: at(0))
        clock.requestEnded()
        clock.headReceived(at: at(1))
        #expect(clock.unanswered == 2)
        clock.responseEnded(at: at(2))
        #expect(clock.phase == .body(since: at(1), bytes: 0), "the second request's body is still arriving")
        clock.requestEnded()
        clock.responseEnded(at: at(3))
        #expect(clock.phase == .idle(since: at(3)))
        #expect(clock.unanswered == 0)
    }

    @Test func aPipelinedRequestsHeadIsTimedFromItsFirstByte() {
        var clock = HTTPConnectionClock(timeouts: timeouts, openedAt: at(0))
        clock.bytesArrived(at: at(0))
        clock.headReceived(at: at(0))
        clock.requestEnded()
        clock.bytesArrived(at: at(3))
        clock.responseEnded(at: at(8))
        #expect(clock.phase == .head(since: at(3)))
        #expect(clock.deadline == at(13))
    }
}
