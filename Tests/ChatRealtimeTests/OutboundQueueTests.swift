import NIOCore
import Testing

@testable import ChatRealtime

@Suite struct OutboundQueueTests {
    func frame(_ bytes: Int) -> ByteBuffer { ByteBuffer(repeating: 0x61, count: bytes) }

    @Test func writesStraightThroughWhileTheSocketTakesMore() {
        var queue = OutboundQueue()
        #expect(queue.offer(frame(10), kind: .durable, writable: true, limit: 100) == .write)
        #expect(queue.isEmpty)
    }

    @Test func queuesInOrderWhileTheSocketIsFullAndAfterwards() {
        var queue = OutboundQueue()
        #expect(queue.offer(ByteBuffer(string: "1"), kind: .durable, writable: false, limit: 100) == .queued)
        #expect(queue.offer(ByteBuffer(string: "2"), kind: .durable, writable: true, limit: 100) == .queued,
                "nothing overtakes what waits")
        #expect(queue.next().map { String(buffer: $0) } == "1")
        #expect(queue.next().map { String(buffer: $0) } == "2")
        #expect(queue.next() == nil)
        #expect(queue.isEmpty && queue.bytes == 0)
    }

    @Test func ephemeralFramesGoFirstThenASlowClientOverflows() {
        var queue = OutboundQueue()
        #expect(queue.offer(frame(40), kind: .ephemeral, writable: false, limit: 100) == .queued)
        #expect(queue.offer(frame(40), kind: .durable, writable: false, limit: 100) == .queued)
        #expect(queue.offer(frame(40), kind: .durable, writable: false, limit: 100) == .queued, "the typing frame went")
        #expect(queue.bytes == 80)
        #expect(queue.offer(frame(30), kind: .ephemeral, writable: false, limit: 100) == .dropped)
        #expect(queue.bytes == 80)
        #expect(queue.offer(frame(30), kind: .durable, writable: false, limit: 100) == .overflow)
        #expect(queue.bytes == 0)
    }

    @Test func replayedFramesAreExemptFromTheLimit() {
        var queue = OutboundQueue()
        for _ in 0..<5 { #expect(queue.offer(frame(40), kind: .replay, writable: false, limit: 100) == .queued) }
        #expect(queue.bytes == 200)
    }
}
