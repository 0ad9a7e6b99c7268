using System;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    internal static class Program
    {
        private static async Task<int> Main(string[] args)
        {
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
