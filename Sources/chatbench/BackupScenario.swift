import ArgumentParser
import ChatCore
import ChatStore
import Foundation

/// `chatbench backup`: the figures of backups and point-in-time recovery, each beside its reference in the same run.
///
/// 1. **Shipping cost**: `chatbench store`'s sends (64 senders, as fast as acks come back) without and with WAL
///    shipping, in alternating rounds (A B A B …); the ratio of each pair. Its floor, in a third round: the sends
///    without shipping while another thread writes as many bytes as the shipper did, a MiB and a sync at a time.
/// 2. **Recovery point** under a paced load (`--rate` messages/s): every 100 ms, now minus the commit time of the
///    newest transaction in the archive — what a crash of the disk at that moment would lose. Its maximum and p99,
///    beside `--ship-seconds` (the bound the shipper promises when writes are few).
/// 3. **Backup of a big database**: a store of `--messages` messages, the same paced load; ack latency while a
///    snapshot runs against the same load without one; the snapshot's time and size. Its floor: the same load while
///    the database file is copied by plain reads and writes (a MiB and a sync at a time).
struct BackupScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "WAL shipping's cost, the recovery point under load, a snapshot's stall.")

    @Option(help: "Rounds of each side for the shipping cost.") var rounds = 5
    @Option(help: "Seconds of each round.") var roundSeconds = 5.0
    @Option(help: "Messages per second of the paced load.") var rate = 1000
    @Option(help: "Seconds of the paced load for the recovery point.") var seconds = 60.0
    @Option(help: "The shipper's interval (backup.ship_seconds).") var shipSeconds = 60
    @Option(help: "Messages in the database that is backed up.") var messages = 1_000_000
    @Option(help: "Seconds of the paced load on the big database before the measured ones (its warm-up after the fill).")
    var warmup = 20.0
    @Option(help: "Parts to run, of shipping, rpo, snapshot (comma-separated).") var parts = "shipping,rpo,snapshot"
    @Option(help: "Folder for the benchmark's databases (a temporary folder by default; removed afterwards).")
    var directory: String?

    func run() async throws {
        let root = URL(fileURLWithPath: directory ?? NSTemporaryDirectory())
            .appendingPathComponent("chatbench-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let wanted = Set(parts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        var result: [(String, Any)] = [("scenario", "backup")]
        if wanted.contains("shipping") { result += try await shippingCost(root) }
        if wanted.contains("rpo") { result += try await recoveryPoint(root) }
        if wanted.contains("snapshot") { result += try await snapshotStall(root) }
        printResult(result)
    }

    /// 1. Shipping cost, and its floor: the same bytes written beside the sends by a thread that is not chatd's.
    private func shippingCost(_ root: URL) async throws -> [(String, Any)] {
        let sends = try StoreScenario.parse(["--seconds", "\(roundSeconds)"])
        var ratios: [Double] = []
        var floors: [Double] = []
        var plain: [Double] = []
        var shipped: [Double] = []
        for round in 0..<rounds {
            let without = try await sends.measureSends(at: root.appendingPathComponent("plain-\(round)"))
            let with = try await sends.measureSends(
                at: root.appendingPathComponent("shipped-\(round)"),
                shipping: WALShipping(
                    archive: root.appendingPathComponent("archive-\(round)"), interval: .seconds(shipSeconds)))
            async let neighbour: Void = DiskNeighbour.write(
                bytes: Int(with.shippedBytes), over: roundSeconds, to: root.appendingPathComponent("neighbour-\(round)"))
            let beside = try await sends.measureSends(at: root.appendingPathComponent("beside-\(round)"))
            await neighbour
            plain.append(without.perSecond)
            shipped.append(with.perSecond)
            ratios.append(with.perSecond / without.perSecond)
            floors.append(beside.perSecond / without.perSecond)
            print(
                "round \(round + 1): \(Int(without.perSecond)) msgs/s without shipping, \(Int(with.perSecond)) with (p99 \(rounded(without.latencies.percentile(99))) / \(rounded(with.latencies.percentile(99))) ms); ratio \(rounded(ratios.last!)); CPU \(rounded(without.cpuSeconds / roundSeconds, 2)) / \(rounded(with.cpuSeconds / roundSeconds, 2)) cores, of which shipping \(rounded(with.shippingCPUSeconds / roundSeconds, 2)); archive \(with.shippedBytes / 1_048_576) MiB; \(with.checkpoints.checkpoints) checkpoints, the writer held \(with.checkpoints.barriers) times for \(Int(Double(with.checkpoints.barrierNanoseconds) / 1e6)) ms in all (longest \(rounded(Double(with.checkpoints.longestBarrierNanoseconds) / 1e6)) ms). Floor: \(Int(beside.perSecond)) msgs/s without shipping while another thread writes as many bytes (p99 \(rounded(beside.latencies.percentile(99))) ms), ratio \(rounded(floors.last!))"
            )
        }
        let medianRatio = ratios.sorted()[ratios.count / 2]
        let medianFloor = floors.sorted()[floors.count / 2]
        print(
            "shipping cost: median ratio \(rounded(medianRatio)) of the send rate without shipping (target ≥ 0.9); writing the archive's bytes alone leaves \(rounded(medianFloor))"
        )
        return [
            ("shipping_ratio_median", rounded(medianRatio)),
            ("shipping_disk_floor_median", rounded(medianFloor)),
            ("shipping_ratios", ratios.map { rounded($0) }),
            ("shipping_disk_floors", floors.map { rounded($0) }),
            ("sends_without", plain.map(Int.init)),
            ("sends_with", shipped.map(Int.init)),
        ]
    }

    /// 2. Recovery point under the paced load.
    private func recoveryPoint(_ root: URL) async throws -> [(String, Any)] {
        let archive = root.appendingPathComponent("archive-rpo")
        let store = try Store(
            directory: root.appendingPathComponent("rpo"), durability: .full,
            shipping: WALShipping(archive: archive, interval: .seconds(shipSeconds)))
        let conversations = try await Self.conversations(store, count: 16)
        let shipper = store.walShipper!
        let lag = PacedLoad.Sampler()
        let sampling = Task.detached {
            while !Task.isCancelled {
                let last = shipper.figures.lastCommitShipped
                if last > 0 { lag.add(UInt64(max(0, Clock.nowMillis() - last)) * 1_000_000) }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let paced = try await PacedLoad(rate: rate, seconds: seconds).run(store, conversations)
        sampling.cancel()
        let recovery = lag.latencies
        let archived = try WALArchive.span(of: archive)
        try store.close()
        print(
            "recovery point under \(Int(paced.perSecond)) msgs/s (target \(rate)) for \(Int(seconds)) s with ship_seconds \(shipSeconds): max \(rounded(recovery.percentile(100) / 1000, 2)) s, p99 \(rounded(recovery.percentile(99) / 1000, 2)) s, median \(rounded(recovery.percentile(50) / 1000, 2)) s; archive \((archived?.bytes ?? 0) / 1_048_576) MiB in \(archived?.segments ?? 0) segments"
        )

        return [
            ("rpo_rate", Int(paced.perSecond)),
            ("ship_seconds", shipSeconds),
            ("rpo_max_s", rounded(recovery.percentile(100) / 1000, 2)),
            ("rpo_p99_s", rounded(recovery.percentile(99) / 1000, 2)),
        ]
    }

    /// 3. A snapshot of a big database under the paced load; its floor, a plain copy of the file under the same load.
    private func snapshotStall(_ root: URL) async throws -> [(String, Any)] {
        let big = root.appendingPathComponent("big")
        let filled = try await StoreScenario.fill(big, messages: messages)
        let bigStore = try Store(directory: big, durability: .full)
        let bigConversations = try await Self.conversations(bigStore, count: 16)
        let backupRate = min(rate, 500)
        let slowCommits = PacedLoad.Sampler()
        bigStore.observeCommits { duration, _ in
            let nanoseconds = UInt64(duration.components.attoseconds / 1_000_000_000) + UInt64(duration.components.seconds) * 1_000_000_000
            if nanoseconds > 20_000_000 { slowCommits.add(nanoseconds, sentAt: now() - nanoseconds) }
        }
        _ = try await PacedLoad(rate: backupRate, seconds: warmup).run(bigStore, bigConversations)
        let quietStart = now()
        let quiet = try await PacedLoad(rate: backupRate, seconds: 10).run(bigStore, bigConversations)
        let quietEnd = now()
        let folder = SnapshotFolder(directory: root.appendingPathComponent("snapshots"))
        let snapshotting = Task { () throws -> (SnapshotManifest, UInt64, UInt64) in
            try await Task.sleep(for: .seconds(2))
            let began = now()
            let manifest = try await bigStore.snapshot(into: folder, mediaRoot: nil)
            return (manifest, began, now())
        }
        let load = try await PacedLoad(rate: backupRate, seconds: 10).run(bigStore, bigConversations)
        let (manifest, began, ended) = try await snapshotting.value
        // The sends made while the snapshot ran.
        let during = load.sent(from: began, to: ended)
        let checkpoints = bigStore.checkpointFigures.recent.filter { $0.at >= began && $0.at <= ended + 1_000_000_000 }
            .map { "+\(Int((Double($0.at) - Double(began)) / 1e6)) ms: \($0.frames) frames in \(rounded(Double($0.nanoseconds) / 1e6)) ms" }
        let slowest = load.samples.filter { $0.sentAt >= began && $0.sentAt <= ended }.sorted { $0.latency > $1.latency }
            .prefix(5).map { "\(rounded(Double($0.latency) / 1e6)) ms at +\(Int((Double($0.sentAt) - Double(began)) / 1e6)) ms" }
        // The floor: the same load while the file is copied without SQLite (read, write, sync a MiB at a time).
        let copying = Task { () -> (UInt64, UInt64) in
            try await Task.sleep(for: .seconds(2))
            let began = now()
            await DiskNeighbour.copy(
                big.appendingPathComponent(StoreDatabase.fileName), to: root.appendingPathComponent("plain-copy"))
            return (began, now())
        }
        let copyLoad = try await PacedLoad(rate: backupRate, seconds: 10).run(bigStore, bigConversations)
        let (copyBegan, copyEnded) = try await copying.value
        let duringCopy = copyLoad.sent(from: copyBegan, to: copyEnded)
        // A second floor: the same load while a thread of the same priority keeps one core busy as long as the
        // snapshot took.
        let snapshotTook = Double(ended - began) / 1e9
        let burning = Task { () -> (UInt64, UInt64) in
            try await Task.sleep(for: .seconds(2))
            let began = now()
            await DiskNeighbour.burn(seconds: snapshotTook)
            return (began, now())
        }
        let burnLoad = try await PacedLoad(rate: backupRate, seconds: 10).run(bigStore, bigConversations)
        let (burnBegan, burnEnded) = try await burning.value
        let duringBurn = burnLoad.sent(from: burnBegan, to: burnEnded)
        // Both at once: what a snapshot does at the least (a core's worth of copying, the file's bytes to the disk).
        let both = Task { () -> (UInt64, UInt64) in
            try await Task.sleep(for: .seconds(2))
            let began = now()
            async let burn: Void = DiskNeighbour.burn(seconds: snapshotTook)
            await DiskNeighbour.copy(
                big.appendingPathComponent(StoreDatabase.fileName), to: root.appendingPathComponent("plain-copy-2"))
            await burn
            return (began, now())
        }
        let bothLoad = try await PacedLoad(rate: backupRate, seconds: 10).run(bigStore, bigConversations)
        let (bothBegan, bothEnded) = try await both.value
        let duringBoth = bothLoad.sent(from: bothBegan, to: bothEnded)
        try bigStore.close()
        let snapshotSeconds = Double(manifest.completedAt - manifest.createdAt) / 1000
        print(
            "backup of \(messages) messages (\(filled.bytes / 1_048_576) MiB): \(rounded(snapshotSeconds, 2)) s; ack p99 \(rounded(during.latencies.percentile(99))) ms over the \(during.latencies.count) sends made during it against \(rounded(quiet.latencies.percentile(99))) ms without (ratio \(rounded(during.latencies.percentile(99) / max(0.001, quiet.latencies.percentile(99))))), at \(backupRate) msgs/s; max \(rounded(during.latencies.percentile(100))) ms; slowest: \(slowest.joined(separator: ", "))"
        )
        let slow = slowCommits.all.filter { $0.sentAt >= began && $0.sentAt <= ended + 1_000_000_000 }
            .map { "+\(Int((Double($0.sentAt) - Double(began)) / 1e6)) ms: \(rounded(Double($0.latency) / 1e6)) ms" }
        print("commits over 20 ms from the snapshot's start to 1 s after its end: \(slow.joined(separator: "; "))")
        for (name, from, to) in [("quiet", quietStart, quietEnd), ("snapshot", began, ended), ("plain copy", copyBegan, copyEnded), ("one core busy", burnBegan, burnEnded), ("copy and busy core", bothBegan, bothEnded)] {
            let inWindow = slowCommits.all.filter { $0.sentAt >= from && $0.sentAt <= to }
            print("commits over 20 ms during \(name) (\(rounded(Double(to - from) / 1e9, 2)) s): \(inWindow.count), longest \(rounded(Double(inWindow.map(\.latency).max() ?? 0) / 1e6)) ms")
        }
        print("checkpoints from the snapshot's start to 1 s after its end: \(checkpoints.joined(separator: "; "))")
        print(
            "floor: one core kept busy for \(rounded(snapshotTook, 2)) s by a thread at the snapshot's priority: ack p99 \(rounded(duringBurn.latencies.percentile(99))) ms over the \(duringBurn.latencies.count) sends made meanwhile (ratio \(rounded(duringBurn.latencies.percentile(99) / max(0.001, quiet.latencies.percentile(99)))))"
        )
        print(
            "floor: both at once: ack p99 \(rounded(duringBoth.latencies.percentile(99))) ms over the \(duringBoth.latencies.count) sends made meanwhile (ratio \(rounded(duringBoth.latencies.percentile(99) / max(0.001, quiet.latencies.percentile(99)))))"
        )
        print(
            "floor: a plain copy of the file (a MiB and a sync at a time) took \(rounded(Double(copyEnded - copyBegan) / 1e9, 2)) s; ack p99 \(rounded(duringCopy.latencies.percentile(99))) ms over the \(duringCopy.latencies.count) sends made during it (ratio \(rounded(duringCopy.latencies.percentile(99) / max(0.001, quiet.latencies.percentile(99)))))"
        )
        return [
            ("backup_messages", messages),
            ("backup_bytes", filled.bytes),
            ("backup_s", rounded(snapshotSeconds, 2)),
            ("ack_p99_quiet_ms", rounded(quiet.latencies.percentile(99))),
            ("ack_p99_during_backup_ms", rounded(during.latencies.percentile(99))),
            ("ack_p99_during_plain_copy_ms", rounded(duringCopy.latencies.percentile(99))),
            ("ack_p99_one_core_busy_ms", rounded(duringBurn.latencies.percentile(99))),
            ("ack_p99_copy_and_busy_core_ms", rounded(duringBoth.latencies.percentile(99))),
            ("sends_during_backup", during.latencies.count),
        ]
    }

    static func conversations(_ store: Store, count: Int) async throws -> [(UserID, ConversationID)] {
        let peer = try await store.accounts.createUser(handle: "peer-\(UUID().uuidString.prefix(8))", displayName: "P", passwordHash: nil).id
        var conversations: [(UserID, ConversationID)] = []
        for _ in 0..<count {
            let user = try await store.accounts.createUser(
                handle: "s-\(UUID().uuidString.prefix(12))", displayName: "S", passwordHash: nil).id
            conversations.append((user, try await store.conversations.openDirect(user: user, peer: peer).0.id))
        }
        return conversations
    }
}

/// Messages at a fixed total rate from several senders, each on its own schedule (a sender that falls behind sends
/// at once, so a stall shows in the latencies, not in a lower rate); ack latencies.
struct PacedLoad {
    let rate: Int
    let seconds: Double

    final class Sampler: @unchecked Sendable {
        private let lock = NSLock()
        private var samples = Latencies()
        private var sentAt: [UInt64] = []
        func add(_ nanoseconds: UInt64, sentAt time: UInt64 = 0) {
            lock.lock()
            samples.add(nanoseconds)
            sentAt.append(time)
            lock.unlock()
        }
        var latencies: Latencies {
            lock.lock()
            defer { lock.unlock() }
            return samples
        }
        var all: [(sentAt: UInt64, latency: UInt64)] {
            lock.lock()
            defer { lock.unlock() }
            return Array(zip(sentAt, samples.samples))
        }
    }

    struct Outcome {
        var perSecond: Double
        var latencies: Latencies
        var samples: [(sentAt: UInt64, latency: UInt64)]

        /// The latencies of the sends made between two instants.
        func sent(from start: UInt64, to end: UInt64) -> (perSecond: Double, latencies: Latencies) {
            var latencies = Latencies()
            for sample in samples where sample.sentAt >= start && sample.sentAt <= end { latencies.add(sample.latency) }
            return (Double(latencies.count) / max(1e-9, Double(end - start) / 1e9), latencies)
        }
    }

    func run(_ store: Store, _ conversations: [(UserID, ConversationID)]) async throws -> Outcome {
        let interval = UInt64(1e9 * Double(conversations.count) / Double(rate))
        let start = now()
        let deadline = start + UInt64(seconds * 1e9)
        let samples = Sampler()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, (user, conversation)) in conversations.enumerated() {
                group.addTask {
                    var next = start + UInt64(index) * interval / UInt64(conversations.count)
                    var sequence = 0
                    while next < deadline {
                        let wait = next > now() ? next - now() : 0
                        if wait > 0 { try await Task.sleep(nanoseconds: wait) }
                        sequence += 1
                        let sent = now()
                        _ = try await store.messages.sendMessage(
                            sender: user, conversation: conversation, clientId: "p\(index)-\(sequence)-\(start)",
                            text: sampleText(sequence))
                        samples.add(now() - sent, sentAt: sent)
                        next += interval
                    }
                }
            }
            try await group.waitForAll()
        }
        let latencies = samples.latencies
        return Outcome(
            perSecond: Double(latencies.count) / (Double(now() - start) / 1e9), latencies: latencies, samples: samples.all)
    }
}
