import ChatCore
import Foundation
import Testing

@testable import ChatRealtime

/// `share/asyncapi.yaml` and `share/protocol.md` describe the frames the gateway really accepts and emits, with
/// examples that its parser accepts, and every error and close code.
@Suite struct ProtocolDocumentTests {
    static let share = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("share")

    /// The AsyncAPI document, read line by line: which message ids each operation lists, and each message's
    /// `name` and first example payload (one line of JSON flow style).
    struct AsyncAPI {
        var operations: [String: [String]] = [:]
        var names: [String: String] = [:]
        var examples: [String: JSON] = [:]

        init() throws {
            let text = try String(contentsOf: share.appendingPathComponent("asyncapi.yaml"), encoding: .utf8)
            var section = ""
            var operation: String?
            var message: String?
            for line in text.split(separator: "\n") {
                if !line.hasPrefix(" ") { section = String(line.dropLast()) }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if section == "operations", line.hasPrefix("  "), !line.hasPrefix("   "), trimmed.hasSuffix(":") {
                    operation = String(trimmed.dropLast())
                } else if section == "operations", let operation, trimmed.hasPrefix("- $ref: '#/channels/session/messages/") {
                    let id = trimmed.dropFirst("- $ref: '#/channels/session/messages/".count).dropLast()
                    operations[operation, default: []].append(String(id))
                } else if section == "components", line.hasPrefix("    "), !line.hasPrefix("     "),
                    trimmed.hasSuffix(":")
                {
                    message = String(trimmed.dropLast())
                } else if section == "components", let message, line.hasPrefix("      name: ") {
                    names[message] = trimmed.dropFirst("name: ".count).description
                } else if section == "components", let message, trimmed.hasPrefix("- payload: {") {
                    examples[message] = JSON(data: Data(trimmed.dropFirst("- payload: ".count).utf8))
                }
            }
        }

        func frameTypes(of operation: String) -> Set<String> {
            Set((operations[operation] ?? []).compactMap { names[$0] })
        }
    }

    @Test func asyncAPINamesTheFramesTheServerAcceptsAndEmits() throws {
        let document = try AsyncAPI()
        #expect(document.frameTypes(of: "receiveClientFrames") == Set(ClientFrame.types))
        #expect(document.frameTypes(of: "sendServerFrames") == Set(ServerFrame.types))
        #expect(document.operations["receiveClientFrames"]?.count == ClientFrame.types.count)
        #expect(document.operations["sendServerFrames"]?.count == ServerFrame.types.count)
    }

    @Test func everyClientExampleIsAcceptedByTheParser() throws {
        let document = try AsyncAPI()
        for id in document.operations["receiveClientFrames"] ?? [] {
            let example = try #require(document.examples[id], "no example for \(id)")
            #expect(example["type"].string == document.names[id])
            let parsed = ClientFrame.parse(Array(example.description.utf8))
            if case .failure(let error) = parsed { Issue.record("the example of \(id) is refused: \(error.error)") }
        }
    }

    /// The server's own encoders produce the fields the examples show.
    @Test func serverExamplesHaveTheFieldsTheServerWrites() throws {
        let document = try AsyncAPI()
        let limits = RealtimeLimits()
        let identity = Identity(userId: 7, sessionId: 1, expiresAt: 1)
        let emitted: [String: String] = [
            "welcome": ServerFrame.welcome(id: .string("h1"), identity: identity, sessionId: "s", cursor: 1, limits: limits, maxMessageBytes: 4096),
            "event": ServerFrame.event(
                Event(cursor: 1, type: .messageCreated, conversationId: 1, audienceUserId: nil, at: 1, data: "{}")),
            "synced": ServerFrame.synced(cursor: 1),
            "reset_required": ServerFrame.resetRequired(cursor: 2, oldestAvailable: 1),
            "reply": ServerFrame.reply(id: .string("8"), error: ChatError.notFound("conversation 99")),
            "typing_notice": ServerFrame.typing(conversation: 1, user: 2, active: true, expiresInMillis: 6000),
            "presence": ServerFrame.presence(PresenceState(userId: 3, online: false, lastSeen: 1)),
            "reauthenticate": ServerFrame.reauthenticate(graceSeconds: 60),
        ]
        #expect(Set(emitted.keys) == Set(document.operations["sendServerFrames"] ?? []))
        for (id, frame) in emitted {
            let example = try #require(document.examples[id]?.value as? [String: Any], "no example for \(id)")
            let real = try #require(JSON(data: Data(frame.utf8)).value as? [String: Any], "\(frame)")
            #expect(Set(example.keys) == Set(real.keys), "\(id): the example's fields differ from what is sent")
        }
    }

    @Test func protocolDocumentNamesEveryFrameErrorAndCloseCode() throws {
        let text = try String(contentsOf: Self.share.appendingPathComponent("protocol.md"), encoding: .utf8)
        for type in ClientFrame.types + ServerFrame.types {
            #expect(text.contains("| `\(type)` |"), "frame \(type) has no row in protocol.md")
        }
        for code in ChatError.Code.all {
            #expect(text.contains("| `\(code.rawValue)` | \(code.status) |"), "error code \(code) is not documented")
        }
        for close in CloseReason.all {
            #expect(text.contains("| \(close.code) |"), "close code \(close.code) is not documented")
        }
    }
}
