using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The channel lifecycle in PowerShell, as an admin's script runs it (LifecycleBenchmark.ps1 in a fresh pwsh):
    /// what the record costs the watch cmdlets (record_*), and <c>Get-CalendarChannel | Update-CalendarChannel</c> of
    /// channels across many subjects under per-user and project quotas at default retry settings (renew_*).
    /// </summary>
    internal static class LifecycleBenchmark
    {
        private const string ClientEmail = "lifecycle@calendarwatch-bench.iam.gserviceaccount.com";
        private const string ClientId = "400000000000000000001";

        public static async Task RunAsync(EmulatorProcess emulator, BenchmarkOptions options, Action<string> forward, CancellationToken cancellationToken)
        {
            var subjects = Enumerable.Range(0, options.RenewSubjects).Select(i => string.Create(CultureInfo.InvariantCulture, $"user{i:D2}@calendarwatch-bench.example")).ToArray();
            var calendarsPerSubject = Math.Max(1, Math.Min(10, options.RenewChannels / Math.Max(1, subjects.Length)));
            using var keyFile = await ServiceAccountKeyFile.CreateAsync(emulator, ClientEmail, ClientId, new Uri(emulator.BaseUri, "token"), subjects, cancellationToken).ConfigureAwait(false);
            for (var s = 0; s < subjects.Length; s++)
            {
                for (var c = 0; c < calendarsPerSubject; c++)
                {
                    foreach (var prefix in new[] { "rc", "lc" })
                    {
                        await emulator.CreateCalendarAsync(string.Create(CultureInfo.InvariantCulture, $"{prefix}-{s}-{c}@resource.calendar.google.com"), subjects[s], cancellationToken).ConfigureAwait(false);
                    }
                }
            }

            var folder = Path.Combine(Path.GetTempPath(), "cw-lifecycle-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                var script = Path.Combine(ImportBenchmark.RepositoryRoot(), "tests", "CalendarWatch.Benchmarks", "LifecycleBenchmark.ps1");
                var environment = new Dictionary<string, string>
                {
                    ["CW_MANIFEST"] = options.ModulePath ?? ImportBenchmark.DefaultManifestPath(),
                    ["CW_BASE"] = emulator.BaseUri.AbsoluteUri,
                    ["CW_KEY"] = keyFile.Path,
                    ["CW_SUBJECTS"] = string.Join(",", subjects),
                    ["CW_CALENDARS"] = calendarsPerSubject.ToString(CultureInfo.InvariantCulture),
                    ["CW_RENEW"] = options.RenewChannels.ToString(CultureInfo.InvariantCulture),
                    ["CW_RECORD_WATCHES"] = options.Watches.ToString(CultureInfo.InvariantCulture),
                    ["CW_LATENCY_MS"] = options.LatencyMs.ToString(CultureInfo.InvariantCulture),
                    ["CW_USER_LIMIT"] = options.RenewUserLimit.ToString(CultureInfo.InvariantCulture),
                    ["CW_PROJECT_LIMIT"] = options.RenewProjectLimit.ToString(CultureInfo.InvariantCulture),
                    ["CW_THROTTLE"] = options.ThrottleLimit.ToString(CultureInfo.InvariantCulture),
                    ["CW_FOLDER"] = folder,
                    // The records of this run only, never the user's.
                    ["CALENDARWATCH_STORE"] = Path.Combine(folder, "default.db"),
                };
                var (exitCode, output, errors) = await ImportBenchmark.RunPwshAsync(options.PwshPath, new[] { "-File", script }, environment, TimeSpan.FromMinutes(30), forward, cancellationToken).ConfigureAwait(false);
                if (exitCode != 0)
                {
                    throw new InvalidOperationException($"The lifecycle benchmark's PowerShell exited with code {exitCode}: {errors}");
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
    }
}
