import ArgumentParser

/// Benchmarks of chatd, as programs with a documented command line. Each scenario prints readable lines and, last,
/// one JSON object with its figures. Every figure is measured in the run; none is typed in.
@main
struct Chatbench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chatbench",
        abstract: "Benchmarks of chatd.",
        subcommands: [
            StoreScenario.self, BackupScenario.self, IdleScenario.self, DirectScenario.self, GroupScenario.self, ReconnectScenario.self,
            SlowClientsScenario.self, FragmentsScenario.self, JobsScenario.self, MediaScenario.self, MixedScenario.self, PushScenario.self,
            WorkerCommand.self, CPUHogCommand.self,
        ])
}
