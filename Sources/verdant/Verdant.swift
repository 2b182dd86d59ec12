import ArgumentParser

@main
struct Verdant: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verdant",
        abstract: "Green compression and CPU inference for large language models of code.",
        subcommands: [
            // Each subcommand lives in its own file named after it.
            InspectCommand.self,
            GenerateCommand.self,
            PerplexityCommand.self,
            BenchCommand.self,
            TokenizeCommand.self,
            KernelBenchCommand.self,
            QuantizeCommand.self,
            ExportGGUFCommand.self,
            EvalCommand.self,
            EvalSamplesCommand.self,
            MeasureCommand.self,
            CompareCommand.self,
            PruneCommand.self,
            TeacherCacheCommand.self,
            DistillCommand.self,
            FinetuneCommand.self,
            SearchSpaceCommand.self,
            SearchCostCommand.self,
            SearchCommand.self,
            MergeAdapterCommand.self,
        ]
    )
}
