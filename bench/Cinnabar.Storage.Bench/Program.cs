using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// Without arguments: every benchmark, short runs, in process (no generated project to build:
// the machine is small and shared). Any argument hands control to BenchmarkDotNet's switcher,
// e.g. `-- --filter '*SlotIndex*' --job medium`.
var config = args.Length == 0
    ? DefaultConfig.Instance.AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
    : DefaultConfig.Instance;
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args, config);
