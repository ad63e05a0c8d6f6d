import ArgumentParser
import Foundation
import GRDB
import Synchronization

/// `chatbench mixed`: the original design's whole MVP load on one box. `--connections` users on WebSockets in
/// one-to-one conversations send `--rate` messages per second for `--seconds`, while one of them uploads a 12 MP
/// photo every `--photo-every` seconds, which the daemon processes (display image, thumbnail, blurhash) as the
/// messages flow. Figures: the daemon's peak RSS, message end-to-end latency while images are processed, images
/// done, and anything lost (a message acknowledged but not delivered, or an image not processed).
struct MixedScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixed", abstract: "3,000 users, 500 messages/s and a 12 MP photo a second, on one box.")

    @Option(help: "Connections (users, in pairs).") var connections = 3_000
    @Option(help: "Messages per second.") var rate = 500.0
    @Option(help: "Seconds of load.") var seconds = 60.0
    @Option(help: "Seconds between photo uploads.") var photoEvery = 1.0
    @Option(help: "Load worker processes.") var workers = 2

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        let (pool, users, _, connected) = try await startPairs(server, connections: connections, workers: workers)
        defer { Task { await pool.quit() } }
        let folder = server.root.appendingPathComponent("bench-images")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let photo = folder.appendingPathComponent("photo.jpg")
        try tool("vips", ["gaussnoise", photo.path + "[Q=90]", "4000", "3000", "--mean", "128", "--sigma", "40"])
        let bytes = [UInt8](try Data(contentsOf: photo))

        print("chatd on port \(server.port); \(connected) clients connected; RSS \(server.rssKB / 1024) MB")

        let sampler = PeakSampler(server)
        _ = try await pool.stats()
        // The uploader: a photo every `photoEvery` seconds on a thread of its own (blocking sockets), for as long
        // as the messages flow.
        let uploads = Uploader(server: server, token: users[0].token, bytes: bytes, every: photoEvery, seconds: seconds)
        _ = try await pool.all(["cmd": "send", "rate": rate / Double(pool.count), "seconds": seconds, "senders": 0])
        var stats = try await pool.stats()
        for _ in 0..<20 where stats.received < stats.acked * 2 {
            try await Task.sleep(for: .milliseconds(250))
            stats.add(try await pool.stats())
        }
        let uploaded = uploads.finish()
        // Every image must be processed: wait for the queue to drain.
        let deadline = Date().addingTimeInterval(120)
        var done = 0
        while Date() < deadline {
            done = try processedCount(server)
            if done >= uploaded.ids.count { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let peakKB = sampler.stop()
        let lostMessages = max(0, stats.acked * 2 - stats.received) + stats.gaps
        let lostImages = uploaded.ids.count - done + uploaded.failures
        let p99 = rounded(stats.latencies.percentile(99))
        print(
            "\(Int(rate))/s for \(Int(seconds)) s: \(stats.acked) messages, e2e p50 \(rounded(stats.latencies.percentile(50))) ms, p99 \(p99) ms, p99.9 \(rounded(stats.latencies.percentile(99.9))) ms; lost \(lostMessages), duplicated \(stats.duplicates)"
        )
        print(
            "photos: \(uploaded.ids.count) uploaded (one every \(photoEvery) s), \(done) processed, \(uploaded.failures) uploads failed; upload median \(rounded(median(uploaded.millis), 1)) ms, upload complete → processed median \(rounded(median(try processingMillis(server)), 1)) ms"
        )
        print("chatd peak RSS \(peakKB / 1024) MB")
        printResult([
            "scenario": "mixed", "peak_rss_mb": peakKB / 1024, "p99_ms": p99, "images_done": done,
            "lost": lostMessages + lostImages, "connections": connected, "msgs_per_s": rate,
            "images_uploaded": uploaded.ids.count,
        ])
    }

    func processedCount(_ server: ChatdProcess) throws -> Int {
        try server.database().read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM media WHERE status = 'ready'") ?? 0 }
    }
}

/// Uploads a photo at a fixed interval on its own thread until `seconds` have passed.
final class Uploader: @unchecked Sendable {
    struct Result {
        var ids: [Int64] = []
        var failures = 0
        var millis: [Double] = []
    }

    // `result` is guarded by `lock`; the thread ends before `finish` returns it.
    private let lock = NSLock()
    private var result = Result()
    private let finished = DispatchSemaphore(value: 0)

    init(server: ChatdProcess, token: String, bytes: [UInt8], every: Double, seconds: Double) {
        Thread.detachNewThread { [self] in
            let start = Date()
            var next = start
            var index = 0
            while Date().timeIntervalSince(start) < seconds {
                let begun = now()
                do {
                    let id = try upload(server, token, bytes, filename: "photo\(index).jpg", type: "image/jpeg")
                    lock.withLock {
                        result.ids.append(id)
                        result.millis.append(Double(now() - begun) / 1e6)
                    }
                } catch {
                    lock.withLock { result.failures += 1 }
                }
                index += 1
                next = next.addingTimeInterval(every)
                let wait = next.timeIntervalSinceNow
                if wait > 0 { usleep(UInt32(wait * 1e6)) }
            }
            finished.signal()
        }
    }

    func finish() -> Result {
        finished.wait()
        return lock.withLock { result }
    }
}
