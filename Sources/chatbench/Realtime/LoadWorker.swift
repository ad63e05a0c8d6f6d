import ArgumentParser
import ChatRealtime
import Foundation
import NIOCore
import NIOPosix

/// `chatbench worker`: a load-generating child process. The scenario (its parent) gives it a plan — the server's
/// port and, per connection, a token and a conversation to send to — then drives it with one JSON command per line
/// on stdin; the worker answers each with one JSON line on stdout. One process holds at most a few thousand sockets
/// (the machine allows 20,000 open files per process), so scenarios spread their clients over several workers.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "A load worker (started by the WebSocket scenarios; not for direct use).",
        shouldDisplay: false)

    @Option(help: "The plan: a JSON file with port and connections.") var plan: String

    func run() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: plan))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let worker = LoadWorker(loop: group.next(), port: object["port"] as? Int ?? 0)
        for (slot, entry) in (object["connections"] as? [[String: Any]] ?? []).enumerated() {
            let conversations = (entry["conversations"] as? [NSNumber] ?? []).map(\.int64Value)
            worker.plan.append((slot, entry["token"] as? String ?? "", conversations))
        }
        while let line = readLine() {
            let done = DispatchSemaphore(value: 0)
            let answer = LockedBox<String>("{}")
            worker.loop.execute {
                let command = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
                worker.handle(command) { reply in
                    answer.value = reply
                    done.signal()
                }
            }
            done.wait()
            FileHandle.standardOutput.write(Data((answer.value + "\n").utf8))
            if line.contains("\"quit\"") { break }
        }
        try? group.syncShutdownGracefully()
    }
}

/// A value handed from the event loop to the command thread.
final class LockedBox<Value>: @unchecked Sendable {
    // @unchecked: written on the loop before the semaphore is signalled, read after it is waited on.
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// The state of one worker, all on its one event loop.
final class LoadWorker: @unchecked Sendable {
    // @unchecked: every property is used on `loop` only (commands hop there with `execute`).
    let loop: any EventLoop
    let port: Int
    var plan: [(slot: Int, token: String, conversations: [Int64])] = []
    private(set) var connections: [LoadConnection] = []
    /// Say hello with each connection's last cursor (a resume) rather than none.
    var resume = false

    // Connecting
    private var toConnect: [Int] = []
    private var inFlight = 0
    private var window = 200
    private var upgradedCount = 0
    private var syncedCount = 0
    private var failedCount = 0
    private var connectStarted: UInt64 = 0
    private var lastSynced: UInt64 = 0
    private var lastUpgraded: UInt64 = 0
    private var onConnected: ((String) -> Void)?
    private var rawPort = 0

    // Receiving
    private var receivedCount = 0
    private var duplicates = 0
    private var gaps = 0
    private var latencies: [UInt64] = []
    private var perMessage: [UInt64: UInt64] = [:]
    /// Whether to keep, per message, when its last recipient had it (`per_message`; the group scenario's figure).
    private var trackCompletion = true
    private var closeCodes: [UInt16: Int] = [:]
    private var openCount = 0

    // Sending
    private var acked = 0
    private var failedSends = 0
    private var sentCount = 0
    private var ackLatencies: [UInt64] = []

    init(loop: any EventLoop, port: Int) {
        self.loop = loop
        self.port = port
    }

    func handle(_ command: [String: Any], reply: @escaping (String) -> Void) {
        let number = { (key: String) in (command[key] as? NSNumber)?.doubleValue ?? 0 }
        switch command["cmd"] as? String {
        case "connect":
            resume = command["resume"] as? Bool ?? false
            window = Int(number("window")) > 0 ? Int(number("window")) : 200
            connectAll(raw: false, reply: reply)
        case "raw":
            rawPort = Int(number("port"))
            connectAll(raw: true, reply: reply)
        case "send":
            trackCompletion = command["completion"] as? Bool ?? true
            send(rate: number("rate"), seconds: number("seconds"), senders: Int(number("senders")), reply: reply)
        case "stats":
            reply(stats())
        case "drop":
            // RST, like a lost network: no close handshake and no TIME_WAIT to hold the port.
            for connection in connections {
                guard let channel = connection.channel else { continue }
                let closing = (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                    ?? loop.makeSucceededVoidFuture()
                closing.whenComplete { _ in channel.close(promise: nil) }
            }
            waitUntilClosed(reply: reply)
        case "close":
            for connection in connections {
                connection.channel?.writeAndFlush(
                    ByteBuffer(bytes: ClientFrameEncoding.frame(opcode: 0x8, payload: [0x03, 0xE8])), promise: nil)
            }
            waitUntilClosed(reply: reply)
        default:
            for connection in connections { connection.channel?.close(promise: nil) }
            reply("{}")
        }
    }

    // MARK: Connecting

    private func connectAll(raw: Bool, reply: @escaping (String) -> Void) {
        let previous = connections
        connections = plan.map { entry in
            let connection = LoadConnection(
                slot: entry.slot, token: entry.token, conversations: entry.conversations, worker: self, raw: raw)
            // A resume continues from where the previous socket of this slot stopped.
            if !raw, entry.slot < previous.count { connection.carry(from: previous[entry.slot]) }
            return connection
        }
        toConnect = Array(connections.indices.reversed())
        inFlight = 0
        upgradedCount = 0
        syncedCount = 0
        failedCount = 0
        connectStarted = monotonicNow()
        onConnected = reply
        startConnections(raw: raw)
    }

    private func startConnections(raw: Bool) {
        while inFlight < window, let index = toConnect.popLast() {
            inFlight += 1
            let connection = connections[index]
            ClientBootstrap(group: loop)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(connection)
                    }
                }
                .connect(host: "127.0.0.1", port: raw ? rawPort : port)
                .whenComplete { result in
                    switch result {
                    case .failure: self.failed(connection)
                    case .success where raw:
                        connection.synced = true
                        self.synced(connection)
                    case .success: break
                    }
                }
        }
        finishConnectingIfDone()
    }

    private func finishConnectingIfDone() {
        guard toConnect.isEmpty, inFlight == 0, let reply = onConnected else { return }
        onConnected = nil
        reply(
            "{\"connected\":\(syncedCount),\"failed\":\(failedCount),\"upgraded\":\(upgradedCount),\"started_ns\":\(connectStarted),\"last_upgraded_ns\":\(lastUpgraded),\"last_synced_ns\":\(lastSynced)}"
        )
    }

    func opened(_ connection: LoadConnection) {
        openCount += 1
    }

    func upgraded(_ connection: LoadConnection) {
        upgradedCount += 1
        lastUpgraded = monotonicNow()
    }

    func synced(_ connection: LoadConnection) {
        guard onConnected != nil else { return }
        syncedCount += 1
        lastSynced = monotonicNow()
        inFlight -= 1
        startConnections(raw: connection.isRaw)
    }

    func failed(_ connection: LoadConnection) {
        guard onConnected != nil else { return }
        failedCount += 1
        inFlight -= 1
        startConnections(raw: connection.isRaw)
    }

    func closed(_ connection: LoadConnection) {
        openCount -= 1
        if !connection.synced, onConnected != nil, !connection.isRaw { failed(connection) }
        if openCount <= 0, let waiter = closeWaiter {
            closeWaiter = nil
            waiter()
        }
    }

    func closedByServer(_ connection: LoadConnection, code: UInt16) {
        closeCodes[code, default: 0] += 1
    }

    private var closeWaiter: (() -> Void)?

    private func waitUntilClosed(reply: @escaping (String) -> Void) {
        let finish = {
            let codes = self.closeCodes.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
            reply("{\"closed\":true,\"close_codes\":{\(codes)}}")
        }
        if openCount <= 0 { return finish() }
        closeWaiter = finish
        loop.scheduleTask(in: .seconds(20)) {
            if let waiter = self.closeWaiter {
                self.closeWaiter = nil
                waiter()
            }
        }
    }

    // MARK: Receiving

    func received(sentAt: UInt64, gap: Int) {
        let now = monotonicNow()
        receivedCount += 1
        gaps += gap
        latencies.append(now &- sentAt)
        if trackCompletion, perMessage[sentAt].map({ $0 < now }) ?? true { perMessage[sentAt] = now }
    }

    func duplicate() { duplicates += 1 }

    func acknowledged(sentAt: UInt64, status: Int) {
        if status == 200 || status == 201 {
            acked += 1
            ackLatencies.append(monotonicNow() &- sentAt)
        } else {
            failedSends += 1
        }
        if let waiter = ackWaiter, acked + failedSends >= sentCount {
            ackWaiter = nil
            waiter()
        }
    }

    /// Counters since the last call, then reset.
    private func stats() -> String {
        let perMessageJSON = perMessage.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        let out =
            "{\"received\":\(receivedCount),\"duplicates\":\(duplicates),\"gaps\":\(gaps),\"acked\":\(acked),\"failed_sends\":\(failedSends),\"sent\":\(sentCount),"
            + "\"open\":\(openCount),\"latencies\":[\(latencies.map(String.init).joined(separator: ","))],"
            + "\"ack_latencies\":[\(ackLatencies.map(String.init).joined(separator: ","))],\"per_message\":{\(perMessageJSON)}}"
        receivedCount = 0
        duplicates = 0
        gaps = 0
        latencies = []
        perMessage = [:]
        acked = 0
        failedSends = 0
        sentCount = 0
        ackLatencies = []
        return out
    }

    // MARK: Sending

    private var ackWaiter: (() -> Void)?
    private var sendPool: [LoadConnection] = []
    private var sendStart: UInt64 = 0
    private var sendEnd: UInt64 = 0
    private var sendRate = 0.0
    private var issued = 0
    private var nextSender = 0
    private var onSent: (() -> Void)?

    /// Sends open-loop at `rate` messages per second for `seconds`, spread round-robin over the first `senders`
    /// connections (all when 0); answers once every send has its reply (or after 10 s more).
    private func send(rate: Double, seconds: Double, senders: Int, reply: @escaping (String) -> Void) {
        sendPool = senders > 0 ? Array(connections.prefix(senders)) : connections
        sendStart = monotonicNow()
        sendEnd = sendStart + UInt64(seconds * 1e9)
        sendRate = rate
        issued = 0
        onSent = { reply("{\"issued\":\(self.issued)}") }
        sendTick()
    }

    private func sendTick() {
        let now = monotonicNow()
        let due = Int(Double(min(now, sendEnd) - sendStart) / 1e9 * sendRate) - issued
        for _ in 0..<max(0, due) where !sendPool.isEmpty {
            sendPool[nextSender % sendPool.count].sendMessage(at: monotonicNow())
            nextSender += 1
            issued += 1
            sentCount += 1
        }
        if now < sendEnd {
            loop.scheduleTask(in: .milliseconds(1)) { self.sendTick() }
            return
        }
        guard let finish = onSent else { return }
        onSent = nil
        if acked + failedSends >= sentCount { return finish() }
        ackWaiter = finish
        loop.scheduleTask(in: .seconds(10)) {
            if let waiter = self.ackWaiter {
                self.ackWaiter = nil
                waiter()
            }
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so a send time written by one
/// worker can be subtracted from a receive time read by another.
func monotonicNow() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
