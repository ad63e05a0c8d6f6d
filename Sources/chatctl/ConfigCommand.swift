import ArgumentParser
import ChatConfiguration
import Foundation

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Check or show a configuration (works without a running daemon).",
        subcommands: [Check.self, Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the configuration in effect: the file, with CHATD_* overrides and defaults; secrets hidden.")
        @OptionGroup var daemon: DaemonOptions

        func run() async throws {
            let config = try daemon.loadConfig()
            let values = ConfigReader.describe(config)
            if daemon.json {
                return Output.json(Dictionary(uniqueKeysWithValues: values.map { ($0.key, $0.value) }))
            }
            print("# \(daemon.configFile ?? "no file: the development default"), with CHATD_* overrides")
            var section = ""
            for (key, value) in values {
                let parts = key.split(separator: ".", maxSplits: 1)
                let name = parts.count == 2 ? String(parts[0]) : ""
                if name != section {
                    print("\n[\(name)]")
                    section = name
                }
                print("\(parts.last ?? "") = \(value)")
            }
        }
    }

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
