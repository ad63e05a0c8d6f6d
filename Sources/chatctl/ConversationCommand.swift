import ArgumentParser
import ChatAdmin
import ChatCore
import Foundation

struct ConversationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conversation", abstract: "Look at any conversation and its members (moderation).",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct ConversationsBody: Codable { var conversations: [ConversationSummary] }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List conversations by id.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Only the conversations of this user id.") var user: Int64?
        @Option(help: "Start after this conversation id.") var after: Int64 = 0
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            try await chatctl.run {
                var path = AdminAPI.conversations + "?after=\(after)&limit=\(limit)"
                if let user { path += "&user_id=\(user)" }
                let body = try await daemon.client().get(path, as: ConversationsBody.self)
                if daemon.json { return Output.json(body) }
                Output.table(
                    ["ID", "KIND", "TITLE", "MEMBERS", "MESSAGES", "LAST ACTIVITY"],
                    body.conversations.map { [
                        "\($0.id)", $0.kind.rawValue, $0.title ?? "-", "\($0.memberCount)", "\($0.lastSeq)",
                        Output.time($0.lastActivityAt),
                    ] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a conversation and its members.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The conversation's id.") var id: Int64

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().get(AdminAPI.conversation(id), as: ConversationReport.self)
                if daemon.json { return Output.json(report) }
                let conversation = report.conversation
                print("conversation \(conversation.id): \(conversation.kind.rawValue) \(conversation.title.map { "\"\($0)\"" } ?? ""), \(conversation.lastSeq) message(s), created \(Output.time(conversation.createdAt))")
                Output.table(
                    ["USER", "HANDLE", "ROLE", "READ UP TO"],
                    report.members.map { ["\($0.userId)", $0.handle ?? "-", $0.role.rawValue, "\($0.lastReadSeq)"] })
            }
        }
    }
}

struct MessageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message", abstract: "Moderate messages.", subcommands: [Delete.self])

    struct MessageBody: Codable { var message: Message }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a message whoever sent it: it becomes a tombstone and every member is told.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The conversation's id.") var conversation: Int64
        @Argument(help: "The message's seq in it.") var seq: Int64

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.deleteMessage(conversation, seq), as: MessageBody.self)
                if daemon.json { return Output.json(body) }
                print("message \(seq) of conversation \(conversation) deleted")
            }
        }
    }
}
