using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// Import-Module of the built module in a fresh PowerShell process, timed inside that process
    /// (Measure-Command { Import-Module ... }), once per process. PowerShell is the repository's local tool
    /// (`dotnet pwsh`, from .config/dotnet-tools.json, run in the repository root) unless --pwsh names another.
    /// </summary>
    internal static class ImportBenchmark
    {
        private const string ManifestVariable = "CALENDARWATCH_BENCHMARK_MANIFEST";
        private const string Marker = "import_ms ";

        // Times the import only (wall clock, and the process's CPU time, which other load on the machine inflates less);
        // then checks that the cmdlets are there, so a failed import is never a fast figure.
        private const string Script =
            "$ErrorActionPreference = 'Stop'; " +
            "$process = [System.Diagnostics.Process]::GetCurrentProcess(); $cpu = $process.TotalProcessorTime; " +
            "$elapsed = Measure-Command { Import-Module -Name $env:" + ManifestVariable + " }; " +
            "$cpu = $process.TotalProcessorTime - $cpu; " +
            "$null = Get-Command -Name Connect-CalendarWatch -Module CalendarWatch; " +
            "'" + Marker + "' + $elapsed.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture) + ' ' + $cpu.TotalMilliseconds.ToString([cultureinfo]::InvariantCulture)";

        /// <summary>Each run's import time and the CPU time it took, in milliseconds.</summary>
        public static async Task<IReadOnlyList<(double Wall, double Cpu)>> MeasureAsync(string manifest, string? pwsh, int runs, CancellationToken cancellationToken)
        {
            if (!File.Exists(manifest))
            {
                throw new FileNotFoundException($"The built module '{manifest}' does not exist. Run ./build.ps1 -Task Build first, or give --module <path to CalendarWatch.psd1>.", manifest);
            }

            var times = new List<(double Wall, double Cpu)>(runs);
            for (var i = 0; i < runs; i++)
            {
                times.Add(await RunOnceAsync(manifest, pwsh, cancellationToken).ConfigureAwait(false));
            }

            return times;
        }

        /// <summary>output/CalendarWatch/&lt;ModuleVersion&gt;/CalendarWatch.psd1 under the repository root.</summary>
        public static string DefaultManifestPath()
        {
            var root = RepositoryRoot();
            var source = File.ReadAllText(Path.Combine(root, "CalendarWatch.psd1"));
            var version = Regex.Match(source, @"ModuleVersion\s*=\s*'([0-9.]+)'").Groups[1].Value;
            return Path.Combine(root, "output", "CalendarWatch", version, "CalendarWatch.psd1");
        }

        public static double Median(IReadOnlyList<double> values)
        {
            var sorted = values.OrderBy(v => v).ToArray();
            var middle = sorted.Length / 2;
            return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        }

        private static async Task<(double Wall, double Cpu)> RunOnceAsync(string manifest, string? pwsh, CancellationToken cancellationToken)
        {
            var (exitCode, output, errors) = await RunPwshAsync(pwsh, new[] { "-Command", Script }, new Dictionary<string, string> { [ManifestVariable] = manifest }, TimeSpan.FromMinutes(2), null, cancellationToken).ConfigureAwait(false);
            var line = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith(Marker, StringComparison.Ordinal));
            var values = line?.Substring(Marker.Length).Split(' ');
            if (exitCode != 0 || values is null || values.Length != 2
                || !double.TryParse(values[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var wall)
                || !double.TryParse(values[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var cpu))
            {
                var hint = string.IsNullOrEmpty(pwsh) ? " (is the local tool restored? dotnet tool restore)" : string.Empty;
                throw new InvalidOperationException($"PowerShell{hint} exited with code {exitCode} without an import time: {output}{errors}");
            }

            return (wall, cpu);
        }

        /// <summary>
        /// Runs PowerShell (the repository's local tool unless <paramref name="pwsh"/> names another) with these
        /// arguments after -NoProfile -NonInteractive; each line of its output goes to <paramref name="onLine"/> as it comes.
        /// </summary>
        internal static async Task<(int ExitCode, string Output, string Errors)> RunPwshAsync(string? pwsh, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, TimeSpan timeLimit, Action<string>? onLine, CancellationToken cancellationToken)
        {
            ProcessStartInfo psi;
            if (string.IsNullOrEmpty(pwsh))
            {
                var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
                psi = new ProcessStartInfo(string.IsNullOrEmpty(host) ? "dotnet" : host!) { WorkingDirectory = RepositoryRoot() };
                psi.ArgumentList.Add("pwsh");
            }
            else
            {
                psi = new ProcessStartInfo(pwsh!);
            }

            psi.ArgumentList.Add("-NoProfile");
            psi.ArgumentList.Add("-NonInteractive");
            foreach (var argument in arguments)
            {
                psi.ArgumentList.Add(argument);
            }

            psi.UseShellExecute = false;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            psi.CreateNoWindow = true;
            foreach (var pair in environment)
            {
                psi.Environment[pair.Key] = pair.Value;
            }

            psi.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["POWERSHELL_UPDATECHECK"] = "Off";
            psi.Environment["DOTNET_NOLOGO"] = "1";

            using var process = Process.Start(psi) ?? throw new InvalidOperationException($"'{psi.FileName}' did not start.");
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            var output = new System.Text.StringBuilder();
            var stdout = Task.Run(async () =>
            {
                string? line;
                while ((line = await process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false)) != null)
                {
                    output.AppendLine(line);
                    onLine?.Invoke(line);
                }
            }, cancellationToken);
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(timeLimit);
                try
                {
                    await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    throw;
                }
            }

            await stdout.ConfigureAwait(false);
            return (process.ExitCode, output.ToString(), await stderr.ConfigureAwait(false));
        }

        internal static string RepositoryRoot()
        {
            for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "CalendarWatch.psd1")) && File.Exists(Path.Combine(folder.FullName, ".config", "dotnet-tools.json")))
                {
                    return folder.FullName;
                }
            }

            throw new DirectoryNotFoundException($"No repository root (CalendarWatch.psd1 and .config/dotnet-tools.json) above {AppContext.BaseDirectory}: give --module and --pwsh.");
        }
    }
}
