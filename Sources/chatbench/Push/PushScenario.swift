import ArgumentParser
import ChatCore
import ChatLoopback
import ChatPush
import Crypto
import Foundation
import Synchronization

/// `chatbench push`: one message to a group whose `--members` other members are all offline, each with a Web Push
/// subscription at a local push service (`LoopbackHTTPSServer`, HTTPS, HTTP/2, answering 201 at once). chatd decides the audience, records the
/// notifications, enqueues the delivery batches, encrypts each payload to its subscription (RFC 8291) and signs
/// for each push service (VAPID), and sends.
///
/// Figures per round, from the send's request to the sink's last `201`: notifications per second and the time
/// until the last one was accepted. Every notification is then decrypted with its subscription's key and checked
/// (one per member, the round's text, its badge). Beside it, the ceiling of the encryption alone on one core, in
/// the same run, and chatd's CPU time per notification.
struct PushScenario: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "A message fanned out as Web Push notifications to offline group members.")

    @Option(help: "Offline members, each with a Web Push target.") var members = 1000
    @Option(help: "Messages sent, one at a time, each fanned out to every member.") var rounds = 3

    func run() async throws {
        let sink = try await LoopbackHTTPSServer()
        sink.answer { _ in LoopbackHTTPSServer.Response(status: 201) }
        let chatd = try ChatdProcess()
        defer { chatd.stop() }
        let keys = (0..<members).map { _ in P256.KeyAgreement.PrivateKey() }
        let secrets = (0..<members).map { _ in Data((0..<16).map { _ in UInt8.random(in: 0...255) }) }
        let conversation = Mutex<ConversationID>(0)
        let users = try await chatd.seed(users: members + 1) { store, ids in
            let group = try await store.conversations.createGroup(
                creator: ids[0], title: "Everyone", members: Array(ids.dropFirst()))
            conversation.withLock { $0 = group.id }
            for (index, user) in ids.dropFirst().enumerated() {
                _ = try await store.push.register(
                    PushTargetRegistration(
                        platform: .webpush, token: sink.origin + "/push/\(index)",
                        p256dh: keys[index].publicKey.x963Representation, auth: secrets[index]),
                    user: user, session: nil, now: Clock.nowMillis())
            }
        }
        let group = conversation.withLock { $0 }
        let certificate = try sink.writeCertificate(to: chatd.root)
        let vapid = VAPIDKey.generate()
        try await chatd.start(
            extra: """
                [push]
                ca_file = "\(certificate)"
                [push.webpush]
                vapid_private_key = "\(vapid.privateKey)"
                subject = "mailto:bench@example.com"
                """)
        print("group of \(members + 1): one sender, \(members) offline members with a Web Push target each; push service on \(sink.origin)")

        let ceiling = encryptionCeiling(keys: keys, secrets: secrets)
        print("ceiling: the encryption alone, on one core, \(Int(ceiling)) notifications/s (\(rounded(1e6 / ceiling, 1)) µs each)")

        var rates: [Double] = []
        var lasts: [Double] = []
        var cpuPerNotification: [Double] = []
        for round in 1...rounds {
            sink.reset()
            let http = try BlockingHTTP(port: chatd.port)
            let text = "Round \(round): the photos from Saturday are up"
            let cpuBefore = chatd.cpuNanoseconds
            let started = now()
            let (status, _) = try http.json(
                "POST", "/v1/conversations/\(group)/messages", token: users[0].token,
                ["client_id": "push-round-\(round)", "text": text])
            guard status == 201 else { throw BenchError("the send answered \(status)") }
            let deadline = started + 120_000_000_000
            while sink.received.count < members, now() < deadline {
                try await Task.sleep(for: .milliseconds(1))
            }
            let arrivals = sink.received
            guard arrivals.count == members else {
                throw BenchError("round \(round): \(arrivals.count) of \(members) notifications arrived in 120 s")
            }
            // Let the delivery jobs finish before reading chatd's CPU time.
            try await Task.sleep(for: .milliseconds(300))
            let cpu = Double(chatd.cpuNanoseconds - cpuBefore) / 1e3 / Double(members)
            let last = Double((arrivals.map(\.arrivedAt).max() ?? started) - started) / 1e9
            let first = Double((arrivals.map(\.arrivedAt).min() ?? started) - started) / 1e9
            try check(arrivals, keys: keys, secrets: secrets, text: text, badge: round)
            let rate = Double(members) / last
            rates.append(rate)
            lasts.append(last)
            cpuPerNotification.append(cpu)
            print(
                "round \(round): first accepted after \(rounded(first * 1000, 1)) ms, last after \(rounded(last * 1000, 1)) ms: \(Int(rate)) notifications/s; chatd CPU \(rounded(cpu, 1)) µs per notification; all \(members) decrypted and checked"
            )
        }
        await sink.stop()
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let rate = median(rates)
        print("median of \(rounds) rounds: \(Int(rate)) notifications/s, the last accepted after \(rounded(median(lasts), 3)) s; \(rounded(rate / ceiling * 100, 1)) % of the encryption ceiling")
        printResult([
            ("scenario", "push"), ("notifications_per_s", Int(rate)), ("last_accepted_s", rounded(median(lasts), 3)),
            ("members", members), ("rounds", rounds), ("encrypt_ceiling_per_s", Int(ceiling)),
            ("chatd_cpu_us_per_notification", rounded(median(cpuPerNotification), 1)),
        ])
    }

    /// Notifications per second that one core encrypts (RFC 8291, a fresh key and salt each, as chatd does).
    private func encryptionCeiling(keys: [P256.KeyAgreement.PrivateKey], secrets: [Data]) -> Double {
        let payload = Data(
            #"{"badge":1,"body":"Ann: Round 1: the photos from Saturday are up","collapse_key":"c1","conversation_id":1,"kind":"message","message_id":1,"sender_id":1,"sender_name":"User 0","seq":1,"title":"Everyone"}"#
                .utf8)
        let count = min(keys.count, 1000)
        let started = now()
        for index in 0..<count {
            _ = try? WebPushEncryption.encrypt(payload, p256dh: keys[index].publicKey.x963Representation, auth: secrets[index])
        }
        return Double(count) / (Double(now() - started) / 1e9)
    }

    /// One notification per member, each opening with its subscription's key to the round's message.
    private func check(
        _ arrivals: [LoopbackHTTPSServer.Request], keys: [P256.KeyAgreement.PrivateKey], secrets: [Data], text: String, badge: Int
    ) throws {
        var seen = Set<Int>()
        for arrival in arrivals {
            guard let index = Int(arrival.path.split(separator: "/").last ?? ""), index < keys.count,
                seen.insert(index).inserted
            else { throw BenchError("an unexpected or repeated notification to \(arrival.path)") }
            guard arrival.headers["authorization"]?.hasPrefix("vapid t=") == true else { throw BenchError("no VAPID authorization") }
            let plain = try WebPushEncryption.decrypt(arrival.body, privateKey: keys[index], auth: secrets[index])
            let content = try ChatJSON.decoder().decode(PushContent.self, from: plain)
            guard content.body.hasSuffix(text), content.badge == badge else {
                throw BenchError("notification \(index) says \(content.body) with badge \(content.badge)")
            }
        }
    }
}
