import ArgumentParser
import ChatConfiguration
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check a configuration file (works without a running daemon).",
        subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration: exit 0 when valid, 78 with every problem listed. Offline.")
        @Argument(help: "The file (default: $CHATD_CONFIG, else /etc/chatd/chatd.toml).") var file: String?

        func run() async throws {
            let path = file ?? ProcessInfo.processInfo.environment["CHATD_CONFIG"] ?? DaemonOptions.installedConfig
            do {
                _ = try ConfigReader.load(file: path)
                print("\(path): configuration is valid (checked offline)")
            } catch let error as ConfigError {
                Output.error("\(path): invalid configuration\n\(error)")
                throw ExitCode(78)
            }
        }
    }
}
