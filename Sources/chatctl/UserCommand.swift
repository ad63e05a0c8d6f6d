import ArgumentParser
import ChatAdmin
import ChatCore
import Foundation

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Accounts: add, list, show, set a password, disable, enable.",
        subcommands: [Add.self, List.self, Show.self, Passwd.self, Disable.self, Enable.self], defaultSubcommand: List.self)

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
                    ["ID", "HANDLE", "NAME", "SESSIONS", "STATE"],
                    body.users.map { [
                        "\($0.user.id)", $0.user.handle ?? "-", $0.user.displayName, "\($0.activeSessions)",
                        $0.disabledAt == nil ? "active" : "disabled",
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
                print(account.disabledAt.map { "disabled since \(Output.time($0))" } ?? "active")
                SessionsCommand.printSessions(report.sessions)
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
