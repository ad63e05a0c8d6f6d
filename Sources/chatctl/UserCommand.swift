import ArgumentParser
import ChatAdmin
import ChatCore
import Foundation

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Accounts: add, list, show, set a password, disable, enable, delete, set a role.",
        subcommands: [
            Add.self, List.self, Show.self, Passwd.self, Disable.self, Enable.self, Delete.self, Role.self,
        ], defaultSubcommand: List.self)

    /// A password read from standard input (its first line), so it never shows in a process list or a history.
    static func readPassword() throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give the password on standard input, e.g. `printf '%s\\n' \"$PASSWORD\" | chatctl …`")
        }
        return line
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user; with --password-stdin, with the password read from standard input.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The handle.") var handle: String
        @Option(help: "The display name (default: the handle).") var name: String?
        @Flag(help: "Read a password from standard input.") var passwordStdin = false

        func run() async throws {
            var body: [String: Any] = ["handle": handle]
            if let name { body["display_name"] = name }
            if passwordStdin { body["password"] = try UserCommand.readPassword() }
            try await chatctl.run {
                let report = try await daemon.client().post(AdminAPI.users, json: body, as: UserReport.self)
                if daemon.json { return Output.json(report) }
                print("created user \(report.account.user.id) @\(handle)")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's password (read from standard input); every session of theirs ends.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            let password = try UserCommand.readPassword()
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.password(user), json: ["password": password], as: SessionsEnded.self)
                if daemon.json { return Output.json(body) }
                print("password set for \(user); \(body.endedSessions) session(s) ended")
            }
        }
    }

    struct UsersBody: Codable { var users: [AccountSummary] }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users by id.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Start after this user id.") var after: Int64 = 0
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().get(AdminAPI.users + "?after=\(after)&limit=\(limit)", as: UsersBody.self)
                if daemon.json { return Output.json(body) }
                Output.table(
                    ["ID", "HANDLE", "NAME", "ROLE", "SESSIONS", "STATE"],
                    body.users.map { [
                        "\($0.user.id)", $0.user.handle ?? "-", $0.user.displayName, $0.role.rawValue,
                        "\($0.activeSessions)", UserCommand.state($0),
                    ] })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user (by id or handle) and their sessions.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().get(AdminAPI.user(user), as: UserReport.self)
                if daemon.json { return Output.json(report) }
                let account = report.account
                print("user \(account.user.id) @\(account.user.handle ?? "-") \"\(account.user.displayName)\", created \(Output.time(account.user.createdAt))")
                print("role \(account.role.rawValue); \(UserCommand.state(account))")
                SessionsCommand.printSessions(report.sessions)
            }
        }
    }

    static func state(_ account: AccountSummary) -> String {
        if let deleted = account.deletedAt { return "deleted \(Output.time(deleted))" }
        if let disabled = account.disabledAt { return "disabled since \(Output.time(disabled))" }
        return "active"
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an account for good: sessions ended, sockets closed, groups left, profile erased.",
            discussion: """
                The account's row stays as "Deleted user" (no handle, email, phone or password), so the messages it \
                sent keep a sender in other people's history; with --erase-messages they become tombstones too. \
                This cannot be undone: give --yes.
                """)
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String
        @Flag(help: "Also delete every message the user sent (tombstones keep their place).") var eraseMessages = false
        @Flag(help: "Confirm: deleting an account cannot be undone.") var yes = false

        func validate() throws {
            guard yes else { throw ValidationError("deleting \(user) cannot be undone; add --yes to go ahead") }
        }

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(
                    AdminAPI.deleteUser(user), json: ["erase_messages": eraseMessages], as: AccountDeletion.self)
                if daemon.json { return Output.json(body) }
                print(
                    "deleted \(user): \(body.endedSessions) session(s) ended, \(body.leftGroups) group(s) left, \(body.erasedMessages) message(s) erased"
                )
            }
        }
    }

    struct Role: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a user's server-wide role: member, or moderator (deletes any message where they are a member).")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String
        @Argument(help: "member or moderator.") var role: String

        func validate() throws {
            guard ServerRole(rawValue: role) != nil else {
                throw ValidationError("role must be one of: \(ServerRole.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().post(AdminAPI.role(user), json: ["role": role], as: UserReport.self)
                if daemon.json { return Output.json(report) }
                print("\(user) is now a \(report.account.role.rawValue)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account: no sign-in, every session ended, every socket closed.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.disable(user), as: SessionsEnded.self)
                if daemon.json { return Output.json(body) }
                print("disabled \(user); \(body.endedSessions) session(s) ended")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account again.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            try await chatctl.run {
                let report = try await daemon.client().post(AdminAPI.enable(user), as: UserReport.self)
                if daemon.json { return Output.json(report) }
                print("enabled \(user)")
            }
        }
    }
}

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "A user's login sessions: list them, or end them all.",
        subcommands: [List.self, Kick.self], defaultSubcommand: List.self)

    struct SessionsBody: Codable { var sessions: [SessionSummary] }

    static func printSessions(_ sessions: [SessionSummary]) {
        Output.table(
            ["SESSION", "STARTED", "ENDED", "WHY"],
            sessions.map { [
                "\($0.id)", Output.time($0.createdAt), $0.revokedAt.map(Output.time) ?? "-", $0.revokedReason ?? "-",
            ] })
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a user's sessions, newest first.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().get(AdminAPI.sessions(user), as: SessionsBody.self)
                if daemon.json { return Output.json(body) }
                printSessions(body.sessions)
            }
        }
    }

    struct Kick: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a user out everywhere: sessions revoked (refresh tokens stop working), sockets closed.")
        @OptionGroup var daemon: DaemonOptions
        @Argument(help: "The user's id or handle.") var user: String

        func run() async throws {
            try await chatctl.run {
                let body = try await daemon.client().post(AdminAPI.kick(user), as: SessionsEnded.self)
                if daemon.json { return Output.json(body) }
                print("\(body.endedSessions) session(s) of \(user) ended")
            }
        }
    }
}
