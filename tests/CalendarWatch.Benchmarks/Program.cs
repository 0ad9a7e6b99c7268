using System;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    internal static class Program
    {
        private static async Task<int> Main(string[] args)
        {
            if (args.Length > 0 && args[0] == StoreWriter.Flag)
            {
                // Console.Out is synchronized and flushes every line: a printed id is one the store has committed.
                return StoreWriter.Run(args, Console.Out);
            }

            using var cancel = new CancellationTokenSource();
            Console.CancelKeyPress += (_, e) =>
            {
                e.Cancel = true;
                cancel.Cancel();
            };
            return await BenchmarkRunner.RunAsync(args, Console.Out, cancel.Token).ConfigureAwait(false);
        }
    }
}
