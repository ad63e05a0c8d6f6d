import ArgumentParser
import ChatAdmin
import ChatPush
import Foundation

struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push", abstract: "Test push notifications; make a VAPID key pair for Web Push.",
        subcommands: [PushTestCommand.self, VAPIDKeysCommand.self])
}

struct PushTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test notification to every device of a user and print each vendor's answer.",
        discussion: """
            Each target (FCM token, APNs device token, Web Push subscription) gets one notification; the vendor's \
            status and answer are printed as they came. A target the vendor reports gone is removed. Exits 1 when \
            any target was not delivered, or the user has none.
            """)

    @OptionGroup var daemon: DaemonOptions
    @Argument(help: "The user: an id or a handle.") var user: String

    func run() async throws {
        try await chatctl.run {
            let report = try await daemon.client().post(AdminAPI.pushTest(user), as: PushTestReport.self)
            if daemon.json {
                Output.json(report)
            } else if report.results.isEmpty {
                print("user \(report.userId) has no push target: no device of theirs registered one (PUT /v1/push/target)")
            } else {
                Output.table(
                    ["TARGET", "PLATFORM", "OUTCOME", "VENDOR ANSWER"],
                    report.results.map { result in
                        [
                            "\(result.targetId)", result.platform,
                            result.outcome + (result.removed ? " (removed)" : ""),
                            result.answer.isEmpty ? result.detail : result.answer,
                        ]
                    })
            }
            if report.results.isEmpty || report.results.contains(where: { $0.outcome != "delivered" }) {
                throw ExitCode(1)
            }
        }
    }
}

struct VAPIDKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vapid-keys",
        abstract: "Make a VAPID key pair for Web Push (works offline).",
        discussion: """
            Put the private key in [push.webpush] vapid_private_key (or CHATD_PUSH_WEBPUSH_VAPID_PRIVATE_KEY in \
            /etc/chatd/secrets.env), set subject, and restart chatd. The web app subscribes with the public key \
            (PushManager.subscribe's applicationServerKey); GET /v1/push/config serves it too. A new pair \
            invalidates every browser subscription made with the old one.
            """)

    @Flag(name: .long, help: "Print JSON instead of text.") var json = false

    func run() throws {
        let pair = VAPIDKey.generate()
        if json {
            Output.json(["private_key": pair.privateKey, "public_key": pair.publicKey])
            return
        }
        print("# [push.webpush] in /etc/chatd/chatd.toml (keep the private key secret)")
        print("vapid_private_key = \"\(pair.privateKey)\"")
        print("subject = \"mailto:you@example.com\"")
        print("")
        print("# the web app's applicationServerKey")
        print("public key: \(pair.publicKey)")
    }
}
