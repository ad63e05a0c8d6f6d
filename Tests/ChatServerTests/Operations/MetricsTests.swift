import AsyncHTTPClient
import ChatConfiguration
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

@testable import ChatServer

/// `/metrics` parsed after real traffic: every family the issue lists, base units, no ids in labels; and the
/// dashboard and rules in `share/` use only names the daemon really exports.
@Suite struct MetricsTests {
    /// Every family chatd promises (the dashboard and the rules may use any of them).
    static let families = [
        "chatd_http_requests_total", "chatd_http_request_duration_seconds", "chatd_websocket_connections",
        "chatd_websocket_frames_received_total", "chatd_websocket_frames_sent_total", "chatd_users_online",
        "chatd_messages_sent_total", "chatd_fanout_duration_seconds", "chatd_store_commit_duration_seconds",
        "chatd_store_commit_batch_size", "chatd_store_checkpoint_duration_seconds", "chatd_store_checkpoint_frames_total",
        "chatd_store_wal_bytes", "chatd_store_database_bytes",
        "chatd_jobs_queue_depth", "chatd_jobs_oldest_ready_age_seconds", "chatd_jobs_completed_total",
        "chatd_jobs_failed_attempts_total", "chatd_jobs_dead_total", "chatd_media_processing_duration_seconds",
        "chatd_process_resident_memory_bytes", "chatd_process_cpu_seconds_total", "chatd_process_open_fds",
        "chatd_process_max_fds", "chatd_process_start_time_seconds", "chatd_disk_used_ratio", "chatd_disk_free_bytes",
        "chatd_backup_last_success_timestamp_seconds", "chatd_alert_firing", "chatd_machine_memory_bytes",
        "chatd_machine_cpus", "chatd_wal_last_ship_timestamp_seconds", "chatd_wal_shipped_bytes_total",
    ]

    /// Scrapes the text; returns each family's type and its sample lines.
    static func scrape(port: Int) async throws -> (types: [String: String], samples: [String]) {
        // A client and a connection of its own each time, as Prometheus scrapes: a connection of the shared pool
        // (other tests use it at the same time) may be closing as it is reused.
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics")
        request.headers.add(name: "Connection", value: "close")
        let fetched: Result<(HTTPClientResponse, ByteBuffer), any Error>
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            fetched = .success((response, try await response.body.collect(upTo: 1 << 22)))
        } catch {
            fetched = .failure(error)
        }
        try await client.shutdown()
        let (response, body) = try fetched.get()
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"].first?.hasPrefix("text/plain; version=0.0.4") == true)
        let text = String(buffer: body)
        var types: [String: String] = [:]
        var samples: [String] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
            } else if !line.hasPrefix("#") {
                samples.append(String(line))
            }
        }
        return (types, samples)
    }

    /// The value of the sample with exactly this name and label text.
    static func value(_ samples: [String], _ series: String) -> Double? {
        samples.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func everyFamilyAfterRealTraffic() async throws {
        let metricsPort = try freePort()
        let config = mediaConfig { $0.metrics.port = metricsPort }
        try await withServer(config) { api in
            let alice = try await api.register("alice")
            let bob = try await api.register("bob")
            let direct = try await api.direct(alice, with: bob)
            for index in 0..<3 { try await api.send(alice, direct, "rest \(index)") }
            let (socket, _) = try await Socket.hello(port: api.client.port!, token: bob.token)
            let reply = try await socket.request(
                ["type": "send", "conversation_id": direct, "client_id": "ws-1", "text": "over the socket"])
            #expect(reply["status"].int == 201, "\(reply)")
            _ = try await api.call(.get, "/v1/nothing/here")
            // Last on this connection: an upload's answer can end it (when the answer goes out before the request's
            // end is read, the connection closes after it), and the test client does not reconnect.
            let folder = temporaryDirectory()
            _ = try await api.upload(alice, file: try MediaFixtures.transparentPNG(in: folder), type: "image/png")
            // The checkpointer copies the writes into the database file within its next tick or two.
            try await eventually {
                let samples = try await Self.scrape(port: metricsPort).samples
                return samples.contains { $0.hasPrefix(#"chatd_media_processing_duration_seconds_count{kind="image"}"#) }
                    && (Self.value(samples, "chatd_store_checkpoint_duration_seconds_count") ?? 0) >= 1
            }

            let (types, samples) = try await Self.scrape(port: metricsPort)
            for family in Self.families {
                #expect(types[family] != nil, "\(family) is not exported")
            }
            #expect(types["chatd_http_request_duration_seconds"] == "histogram")
            #expect(types["chatd_messages_sent_total"] == "counter")
            #expect(Self.value(samples, "chatd_messages_sent_total") == 4)
            #expect(Self.value(samples, "chatd_websocket_connections") == 1)
            #expect(
                Self.value(
                    samples,
                    #"chatd_http_requests_total{route="/v1/conversations/{conversation_id}/messages",method="POST",status="201"}"#)
                    == 3)
            #expect(
                Self.value(samples, #"chatd_http_requests_total{route="unmatched",method="GET",status="404"}"#) == 1,
                "\(samples.filter { $0.contains("404") })")
            #expect(samples.contains { $0.hasPrefix(#"chatd_media_processing_duration_seconds_count{kind="image"}"#) })
            #expect((Self.value(samples, "chatd_store_checkpoint_frames_total") ?? 0) >= 1)
            // No user or conversation id is ever a label value: routes are templates.
            for sample in samples where sample.contains("route=") {
                #expect(!sample.contains("/\(direct)/"), "\(sample)")
            }
            await socket.close()
        }
    }

    @Test func theDashboardAndTheRulesUseOnlyExportedNames() throws {
        let share = repositoryRoot.appendingPathComponent("share")
        let exported = Set(Self.families)
        for file in ["grafana-dashboard.json", "prometheus-rules.yml"] {
            let text = try String(contentsOf: share.appendingPathComponent(file), encoding: .utf8)
            let used = Set(
                text.matches(of: /chatd_[a-z_]+/).map { match -> String in
                    var name = String(match.output)
                    for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && !exported.contains(name) {
                        name.removeLast(suffix.count)
                    }
                    return name
                })
            #expect(!used.isEmpty, "\(file) uses no chatd metric")
            for name in used.sorted() {
                #expect(exported.contains(name), "\(file) uses \(name), which chatd does not export")
            }
        }
        // The rules file holds the same alerts as the daemon's rules.
        let rules = try String(contentsOf: share.appendingPathComponent("prometheus-rules.yml"), encoding: .utf8)
        for name in AlertRules.names {
            #expect(rules.contains("alert: \(name)") || rules.contains("alert=\"\(name)\""), "no rule for \(name)")
        }
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: share.appendingPathComponent("grafana-dashboard.json"))) as? [String: Any]
        #expect(((dashboard?["panels"] as? [Any])?.count ?? 0) >= 8)
    }
}

/// The alert rules as values, and the webhook receiving a firing and a resolved notice from a live daemon.
@Suite struct AlertTests {
    static func inputs(_ adjust: (inout AlertInputs) -> Void = { _ in }) -> AlertInputs {
        var inputs = AlertInputs(
            cpuPercent: 10, memoryPercent: 20, diskPercent: 30, errorRatePercent: 0, requests: 100, deadJobs: 0,
            lastBackupAt: 1_000_000, backupsScheduled: true, postCommandFailure: nil, certificateDaysLeft: 60,
            now: 1_000_000 + 3_600_000)
        adjust(&inputs)
        return inputs
    }

    @Test func eachRuleFiresPastItsThreshold() {
        let rules = AlertRules()
        #expect(rules.evaluate(Self.inputs()).isEmpty)
        let cases: [(String, (inout AlertInputs) -> Void)] = [
            ("cpu_high", { $0.cpuPercent = 81 }),
            ("memory_high", { $0.memoryPercent = 86 }),
            ("disk_full", { $0.diskPercent = 81 }),
            ("error_rate_high", { $0.errorRatePercent = 1.5 }),
            ("jobs_failed", { $0.deadJobs = 2 }),
            ("backup_missing", { $0.now = 1_000_000 + 27 * 3_600_000 }),
            ("backup_command_failed", { $0.postCommandFailure = "exit status 3" }),
            ("certificate_expiring", { $0.certificateDaysLeft = 5 }),
            ("push_failing", { $0.failingPush = ["webpush (HTTP 401)"] }),
        ]
        for (name, change) in cases {
            #expect(rules.evaluate(Self.inputs(change)).map(\.name) == [name], "\(name)")
        }
        // Too few requests to call a rate; no backup schedule, no backup alert.
        #expect(rules.evaluate(Self.inputs { $0.errorRatePercent = 50; $0.requests = 3 }).isEmpty)
        #expect(rules.evaluate(Self.inputs { $0.lastBackupAt = nil; $0.backupsScheduled = false }).isEmpty)
        #expect(rules.evaluate(Self.inputs { $0.lastBackupAt = nil }).map(\.name) == ["backup_missing"])
    }

    @Test func theBookTellsWhatStartedAndStoppedFiring() {
        var book = AlertBook()
        let disk = Alert(name: "disk_full", summary: "81 %")
        let cpu = Alert(name: "cpu_high", summary: "90 %")
        #expect(book.update([disk]) == [.firing(disk)])
        #expect(book.update([disk]) == [])
        #expect(book.update([disk, cpu]) == [.firing(cpu)])
        #expect(book.update([cpu]) == [.resolved(disk)])
        #expect(book.update([]) == [.resolved(cpu)])
    }

    @Test func theWebhookHearsAFiringAndAResolvedNotice() async throws {
        let received = Mutex<[String]>([])
        let hook = Router()
        hook.post("hook") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 16)
            let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
            received.withLock { $0.append(json?["text"] as? String ?? "") }
            return .ok
        }
        let receiver = Application(router: hook, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { client in
            let folder = temporaryDirectory()
            let file = folder.appendingPathComponent("chatd.toml").path
            @Sendable func write(diskWarning: Int) throws {
                try """
                [server]
                port = 0
                [metrics]
                enabled = false
                [storage]
                data_dir = "\(folder.path)/data"
                [auth]
                bcrypt_cost = 4
                jwt_secret = "\(testSecret)"
                [backup]
                time = ""
                [operations]
                disk_warning_percent = \(diskWarning)
                [alerts]
                webhook_url = "http://127.0.0.1:\(client.port!)/hook"
                """.write(toFile: file, atomically: true, encoding: .utf8)
            }
            try write(diskWarning: 1)
            let config = try ConfigReader.load(file: file, environment: [:])
            try await withServer(config, configFile: file) { api in
                try await eventually { received.withLock { $0.count } == 1 }
                #expect(received.withLock { $0.first }?.contains("FIRING disk_full") == true)
                let socket = try await adminSocket(config)
                let status = try await ChatctlTests.chatctl(["status", "--json", "--socket", socket])
                #expect(status.json["alerts"].array.compactMap(\.string) == ["disk_full"])
                try write(diskWarning: 100)
                let reload = try await ChatctlTests.chatctl(["reload", "--socket", socket])
                #expect(reload.status == 0, "\(reload.stderr)")
                try await eventually { received.withLock { $0.count } == 2 }
                #expect(received.withLock { $0.last }?.contains("RESOLVED disk_full") == true)
            }
        }
    }
}
