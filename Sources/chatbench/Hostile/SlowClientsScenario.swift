import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// `chatbench slow-clients`: thousands of connections that never finish a request — silent ones, half a request line,
/// a head dribbled a byte a second, a body dribbled a byte a second, a WebSocket that never says hello — against a
/// real chatd, while one ordinary client
/// reads history and sends messages. Its latency with and without the attack, the attackers still connected after the
/// deadline (target 0) and the server's descriptors before, during and after.
struct SlowClientsScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slow-clients", abstract: "Slowloris and idle attackers: descriptors freed, others still served.")

    @Option(help: "Attacking connections (a fifth of each kind).") var attackers = 10_000
    @Option(help: "Seconds an idle connection is kept (http.idle_timeout_seconds).") var idleTimeout = 10
    @Option(help: "Seconds of ordinary requests measured in each phase.") var measure = 8.0
    @Option(help: "Ordinary requests per second (half history reads, half sends).") var rate = 200.0

    func run() async throws {
        let server = try ChatdProcess()
        defer { server.stop() }
        var conversation: Int64 = 0
        let users = try await server.seed(users: 2) { store, ids in
            conversation = try await openPairs(store, ids)[0]
        }
        try await server.start(extra: "[http]\nidle_timeout_seconds = \(idleTimeout)\n")
        let port = server.port
        let deadline = Double(max(idleTimeout, 10, 20 + 2)) + 3  // idle, head, body (+ linger), and a margin
        print("chatd on port \(port): head 10 s, body 20 s, idle \(idleTimeout) s (deadlines); \(attackers) attackers")

        let client = OrdinaryClient(port: port, token: users[0].token, conversation: conversation)
        let quiet = try await client.run(seconds: measure, rate: rate)
        let descriptorsQuiet = server.openDescriptors
        print("without attackers: p50 \(quiet.percentile(50)) ms, p99 \(quiet.percentile(99)) ms (\(quiet.count) requests); \(descriptorsQuiet) descriptors")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let attack = SlowAttack(group: group, port: port)
        let started = monotonicNow()
        let connected = try await attack.open(attackers)
        print("\(connected) attackers connected in \(seconds(since: started)) s")
        let descriptorsAttacked = server.openDescriptors
        let attacked = try await client.run(seconds: measure, rate: rate)
        print("during the attack: p50 \(attacked.percentile(50)) ms, p99 \(attacked.percentile(99)) ms (\(attacked.count) requests); \(descriptorsAttacked) descriptors")

        let remaining = deadline - Double(monotonicNow() - started) / 1e9
        if remaining > 0 { try await Task.sleep(for: .seconds(remaining)) }
        let held = attack.stillOpen
        let descriptorsAfter = server.openDescriptors
        let answers = attack.answers
        print("\(Int(deadline)) s after the attack began: \(held) attackers still connected; \(descriptorsAfter) descriptors")
        print("what the attackers got before the close: \(answers.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))")
        attack.stop()
        try? await group.shutdownGracefully()
        let ratio = quiet.percentile(99) > 0 ? attacked.percentile(99) / quiet.percentile(99) : 0
        printResult([
            "scenario": "slow-clients", "attackers": connected, "held_after_deadline": held,
            "deadline_s": deadline, "fds_quiet": descriptorsQuiet, "fds_attacked": descriptorsAttacked,
            "fds_after": descriptorsAfter, "p50_quiet_ms": rounded(quiet.percentile(50)),
            "p99_quiet_ms": rounded(quiet.percentile(99)), "p50_attacked_ms": rounded(attacked.percentile(50)),
            "p99_attacked_ms": rounded(attacked.percentile(99)), "p99_ratio": rounded(ratio, 2),
        ])
    }
}

/// The attackers: plain NIO client channels, each playing one kind of slow client until the server closes it.
final class SlowAttack: @unchecked Sendable {
    // @unchecked: the counters are touched on the group's one event loop; other threads read them only after the
    // attack has settled (and through the loop's `submit`).
    enum Kind: CaseIterable {
        /// Connects and sends nothing.
        case silent
        /// Half a request line, then nothing.
        case halfLine
        /// A request head, one byte a second, never finished.
        case dribbledHead
        /// A complete head announcing a body that comes one byte a second.
        case dribbledBody
        /// A WebSocket upgrade, then no `hello`.
        case silentWebSocket
    }

    private let group: MultiThreadedEventLoopGroup
    private let port: Int
    private var channels: [any Channel] = []
    private var open = 0
    private var statusLines: [String: Int] = [:]
    private var timers: [RepeatedTask] = []

    init(group: MultiThreadedEventLoopGroup, port: Int) {
        self.group = group
        self.port = port
    }

    /// Opens `count` connections, 500 connects at a time; returns how many connected.
    func open(_ count: Int) async throws -> Int {
        let loop = group.next()
        var connected = 0
        for start in stride(from: 0, to: count, by: 500) {
            let batch = (start..<min(count, start + 500)).map { index -> EventLoopFuture<any Channel> in
                let kind = Kind.allCases[index % Kind.allCases.count]
                return ClientBootstrap(group: loop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(AttackerHandler(attack: self))
                        }
                    }
                    .connect(host: "127.0.0.1", port: port)
                    .map { channel in self.started(channel, kind: kind) }
            }
            for future in batch {
                if (try? await future.get()) != nil { connected += 1 }
            }
        }
        return connected
    }

    private func started(_ channel: any Channel, kind: Kind) -> any Channel {
        open += 1
        channels.append(channel)
        channel.closeFuture.whenComplete { _ in self.open -= 1 }
        let head = "POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        switch kind {
        case .silent:
            break
        case .halfLine:
            channel.writeAndFlush(ByteBuffer(string: "GET /v1/me HT"), promise: nil)
        case .dribbledHead:
            dribble(Array(head.utf8) + Array(repeating: UInt8(ascii: "x"), count: 10_000), on: channel)
        case .dribbledBody:
            channel.writeAndFlush(ByteBuffer(string: head + "Content-Length: 10000\r\n\r\n{"), promise: nil)
            dribble(Array(repeating: UInt8(ascii: " "), count: 10_000), on: channel)
        case .silentWebSocket:
            channel.writeAndFlush(
                ByteBuffer(
                    string: "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                promise: nil)
        }
        return channel
    }

    /// Sends one byte a second until the channel closes.
    private func dribble(_ bytes: [UInt8], on channel: any Channel) {
        let next = NIOLoopBoundBox(0, eventLoop: channel.eventLoop)
        let task = channel.eventLoop.scheduleRepeatedTask(
            initialDelay: .milliseconds(Int64.random(in: 0..<1000)), delay: .seconds(1)
        ) { task in
            guard channel.isActive, next.value < bytes.count else {
                task.cancel()
                return
            }
            channel.writeAndFlush(ByteBuffer(bytes: [bytes[next.value]]), promise: nil)
            next.value += 1
        }
        timers.append(task)
    }

    fileprivate func answered(_ statusLine: String) {
        statusLines[statusLine, default: 0] += 1
    }

    /// Attackers the server has not closed.
    var stillOpen: Int { (try? group.next().submit { self.open }.wait()) ?? -1 }

    /// The status lines of the answers the server gave before closing, counted.
    var answers: [String: Int] { (try? group.next().submit { self.statusLines }.wait()) ?? [:] }

    func stop() {
        _ = try? group.next().submit {
            for timer in self.timers { timer.cancel() }
            for channel in self.channels { channel.close(promise: nil) }
        }.wait()
    }
}

/// Notes the status line of whatever the server answers an attacker.
private final class AttackerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let attack: SlowAttack
    private var seen = false

    init(attack: SlowAttack) { self.attack = attack }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !seen else { return }
        seen = true
        let text = String(buffer: unwrapInboundIn(data))
        attack.answered(String(text.split(separator: "\r\n").first ?? "?"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// One ordinary client on a kept-alive connection (reconnecting when the server closes it): history reads and
/// sends, alternately, at a fixed rate, each timed from the request's first byte to the response's last.
struct OrdinaryClient: Sendable {
    let port: Int
    let token: String
    let conversation: Int64

    func run(seconds: Double, rate: Double) async throws -> Latencies {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try self.measure(seconds: seconds, rate: rate) })
            }
        }
    }

    private func measure(seconds: Double, rate: Double) throws -> Latencies {
        var latencies = Latencies()
        var connection = try BlockingHTTP(port: port)
        let start = monotonicNow()
        let interval = UInt64(1e9 / rate)
        var index = 0
        while monotonicNow() - start < UInt64(seconds * 1e9) {
            let due = start + UInt64(index) * interval
            let current = monotonicNow()
            if due > current { usleep(UInt32((due - current) / 1000)) }
            let request: String
            if index.isMultiple(of: 2) {
                request = "GET /v1/conversations/\(conversation)/messages?limit=20 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n"
            } else {
                let body = #"{"client_id":"bench-\#(UUID().uuidString)","text":"\#(sampleText(index))"}"#
                request = "POST /v1/conversations/\(conversation)/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            }
            let sent = monotonicNow()
            let status: Int
            do {
                status = try connection.exchange(request)
            } catch {
                connection = try BlockingHTTP(port: port)
                continue
            }
            guard status < 300 else { throw BenchError("an ordinary request got \(status)") }
            latencies.add(monotonicNow() - sent)
            index += 1
        }
        return latencies
    }
}
