using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The watch pipeline as a PowerShell user runs it (PipelineBenchmark.ps1 in a fresh pwsh): the first
    /// <c>New-CalendarEventWatch</c> of a process against the bound made of the emulator's measured time per request
    /// (a sequential loop in C# beforehand), a second run, and the process's CPU per channel at zero latency.
    /// </summary>
    internal static class PipelineBenchmark
    {
        private const string ClientEmail = "pipeline@calendarwatch-bench.iam.gserviceaccount.com";
        private const string ClientId = "400000000000000000002";

        private static string Calendar(int i) => "pl-" + i.ToString(CultureInfo.InvariantCulture) + "@resource.calendar.google.com";

        public static async Task RunAsync(EmulatorProcess emulator, BenchmarkOptions options, Action<string> forward, Action<string, double, string> line, CancellationToken cancellationToken)
        {
            var calendars = options.Watches;
            using var keyFile = await ServiceAccountKeyFile.CreateAsync(emulator, ClientEmail, ClientId, new Uri(emulator.BaseUri, "token"), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < calendars; i++)
            {
                await emulator.CreateCalendarAsync(Calendar(i), ClientEmail, cancellationToken).ConfigureAwait(false);
            }

            await emulator.SetFaultsAsync(new Dictionary<string, object?> { ["latencyMs"] = options.LatencyMs }, cancellationToken).ConfigureAwait(false);
            var address = new Uri(emulator.BaseUri, "benchmark-sink");

            // The emulator's real time per request at this latency: a sequential loop (after a few warm-up requests)
            // over a sample of the calendars, as section 1 measures it.
            var perRequest = await MeasureRequestAsync(keyFile.Path, emulator.BaseUri, address, Math.Min(calendars, options.PipelineSample), cancellationToken).ConfigureAwait(false);
            var bound = TimeSpan.FromTicks(perRequest.Ticks * calendars / Math.Max(1, options.ThrottleLimit));
            line("pipeline_measured_time_per_request", perRequest.TotalMilliseconds, "ms");

            var script = Path.Combine(ImportBenchmark.RepositoryRoot(), "tests", "CalendarWatch.Benchmarks", "PipelineBenchmark.ps1");
            var folder = Path.Combine(Path.GetTempPath(), "cw-pipeline-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                var environment = new Dictionary<string, string>
                {
                    ["CW_MANIFEST"] = options.ModulePath ?? ImportBenchmark.DefaultManifestPath(),
                    ["CW_BASE"] = emulator.BaseUri.AbsoluteUri,
                    ["CW_KEY"] = keyFile.Path,
                    ["CW_CALENDARS"] = calendars.ToString(CultureInfo.InvariantCulture),
                    ["CW_THROTTLE"] = options.ThrottleLimit.ToString(CultureInfo.InvariantCulture),
                    ["CW_LATENCY_MS"] = options.LatencyMs.ToString(CultureInfo.InvariantCulture),
                    ["CW_BOUND_S"] = bound.TotalSeconds.ToString("R", CultureInfo.InvariantCulture),
                    ["CW_CPU_WATCHES"] = options.PipelineCpuWatches.ToString(CultureInfo.InvariantCulture),
                    ["CW_CPU_WARMUP"] = Math.Max(1, options.PipelineCpuWatches / 4).ToString(CultureInfo.InvariantCulture),
                    // -NoRecord everywhere; a record of this run only should anything write one.
                    ["CALENDARWATCH_STORE"] = Path.Combine(folder, "default.db"),
                };
                var (exitCode, _, errors) = await ImportBenchmark.RunPwshAsync(options.PwshPath, new[] { "-File", script }, environment, TimeSpan.FromMinutes(30), forward, cancellationToken).ConfigureAwait(false);
                if (exitCode != 0)
                {
                    throw new InvalidOperationException($"The pipeline benchmark's PowerShell exited with code {exitCode}: {errors}");
                }
            }
            finally
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }

        private static async Task<TimeSpan> MeasureRequestAsync(string keyPath, Uri baseUri, Uri address, int sample, CancellationToken cancellationToken)
        {
            using var connection = ConnectionFactory.ConnectServiceAccount(keyPath, null, null, baseUri);
            var client = new CalendarApiClient(connection);
            foreach (var request in BenchmarkRunner.Requests("pipeline-warmup", 8, address, Calendar))
            {
                await client.WatchAsync(request, cancellationToken).ConfigureAwait(false);
            }

            var clock = Stopwatch.StartNew();
            foreach (var request in BenchmarkRunner.Requests("pipeline-sequential", sample, address, Calendar))
            {
                await client.WatchAsync(request, cancellationToken).ConfigureAwait(false);
            }

            return TimeSpan.FromTicks(clock.Elapsed.Ticks / Math.Max(1, sample));
        }
    }
}
