using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The receiver: <c>Receive-CalendarNotification -Count N | Export-Csv</c> in a fresh PowerShell started here, fed by
    /// a load generator that posts Google-shaped notifications (X-Goog-* headers, empty body, channel tokens) for
    /// channels of a channel record at a fixed rate, open loop: each request starts on its schedule whether or not the
    /// earlier ones were answered. Figures: receive_rate_offered and receive_rate_achieved (notifications/s),
    /// receive_status_not_200, receive_csv_rows and receive_lost (rows missing from the CSV), and the time from sending
    /// a request to its answer (receive_latency_p50/p99/max, ms).
    /// </summary>
    internal static class ReceiveBenchmark
    {
        private const int Channels = 200;

        private const string Script =
            "$ErrorActionPreference = 'Stop'; Import-Module -Name $env:CW_MANIFEST; " +
            "$process = [System.Diagnostics.Process]::GetCurrentProcess(); $cpu = $process.TotalProcessorTime; " +
            "Receive-CalendarNotification -Port ([int]$env:CW_PORT) -Count ([int]$env:CW_COUNT) -RecordPath $env:CW_RECORD -Timeout (New-TimeSpan -Minutes 10) -Verbose | " +
            "Export-Csv -LiteralPath $env:CW_CSV -NoTypeInformation; " +
            "$process.Refresh(); '" + CpuMarker + "' + ($process.TotalProcessorTime - $cpu).TotalMilliseconds.ToString([cultureinfo]::InvariantCulture)";

        private const string CpuMarker = "receiver_cpu_ms ";

        public static async Task RunAsync(BenchmarkOptions options, string manifest, Action<string, double, string> line, Action<string> note, CancellationToken cancellationToken)
        {
            var rate = options.ReceiveRate;
            var count = options.ReceiveCount;
            var folder = Path.Combine(Path.GetTempPath(), "cw-receive-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                var record = Path.Combine(folder, "channels.db");
                var now = DateTimeOffset.UtcNow;
                using (var store = ChannelStore.Open(record))
                {
                    store.Insert(Enumerable.Range(0, Channels).Select(i => new ChannelRecord
                    {
                        ChannelId = ChannelId(i),
                        State = ChannelState.Active,
                        CalendarId = BenchmarkRunner.RoomId(i % BenchmarkRunner.Rooms),
                        Resource = WatchResource.Events,
                        Address = "https://hooks.example.com/calendar",
                        Token = "tenant=" + i.ToString(CultureInfo.InvariantCulture),
                        ResourceId = "resource" + i.ToString("D19", CultureInfo.InvariantCulture),
                        Expiration = now.AddDays(7),
                        CreatedAt = now,
                        UpdatedAt = now,
                    }));
                }

                var csv = Path.Combine(folder, "notifications.csv");
                var port = FreePort();
                note($"receiver: {count} notifications at {rate}/s from {Channels} recorded channels into Receive-CalendarNotification | Export-Csv (one fresh PowerShell)");
                using var pwsh = StartPowerShell(options.PwshPath, manifest, port, count, record, csv);
                var stderr = pwsh.StandardError.ReadToEndAsync(cancellationToken);
                await WaitForListeningAsync(pwsh, cancellationToken).ConfigureAwait(false);
                var rest = pwsh.StandardOutput.ReadToEndAsync(cancellationToken);

                var result = await GenerateAsync(new Uri($"http://127.0.0.1:{port}/calendar"), rate, count, cancellationToken).ConfigureAwait(false);

                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    timeout.CancelAfter(TimeSpan.FromMinutes(2));
                    try
                    {
                        await pwsh.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        pwsh.Kill(entireProcessTree: true);
                        throw new InvalidOperationException($"The receiver did not end after {count} notifications: {await stderr.ConfigureAwait(false)}");
                    }
                }

                var tail = await rest.ConfigureAwait(false);
                var cpuLine = tail.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith(CpuMarker, StringComparison.Ordinal));
                var cpuMs = cpuLine != null && double.TryParse(cpuLine.Substring(CpuMarker.Length), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : double.NaN;
                var errors = await stderr.ConfigureAwait(false);
                if (errors.Trim().Length > 0) note("receiver stderr: " + errors.Trim().Replace('\n', ' '));
                var rows = File.Exists(csv) ? File.ReadLines(csv).Skip(1).Count(l => l.Length > 0) : 0;
                var latencies = result.Latencies.OrderBy(v => v).ToArray();
                // After the first second: the receiver's JIT and the thread pool's growth are behind it.
                var warm = result.Latencies.Skip(rate).OrderBy(v => v).ToArray();
                line("receive_notifications", count, "count");
                line("receive_rate_offered", rate, "per_s");
                line("receive_rate_achieved", count / result.Wall.TotalSeconds, "per_s");
                line("receive_status_not_200", result.NotOk, "count");
                line("receive_csv_rows", rows, "count");
                line("receive_lost", count - rows, "count");
                line("receive_latency_p50", Percentile(latencies, 0.50), "ms");
                line("receive_latency_p99", Percentile(latencies, 0.99), "ms");
                line("receive_latency_max", latencies.Length == 0 ? 0 : latencies[latencies.Length - 1], "ms");
                line("receive_latency_p99_after_first_second", Percentile(warm, 0.99), "ms");
                // The receiving PowerShell's CPU from listening to the end (HTTP, matching, the pipeline and Export-Csv).
                line("receive_cpu_per_notification", cpuMs / count, "ms");
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

        private static string ChannelId(int i) => "bench-recv-" + i.ToString("D4", CultureInfo.InvariantCulture);

        private sealed class LoadResult
        {
            public List<double> Latencies { get; } = new List<double>();

            public int NotOk;

            public TimeSpan Wall;
        }

        /// <summary>Posts <paramref name="count"/> notifications, request i at start + i / rate (open loop), and times each answer.</summary>
        private static async Task<LoadResult> GenerateAsync(Uri address, int rate, int count, CancellationToken cancellationToken)
        {
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 256, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                Timeout = TimeSpan.FromSeconds(30),
            };
            var numbers = new long[Channels];
            var expiration = DateTimeOffset.UtcNow.AddDays(7).ToString("r", CultureInfo.InvariantCulture);
            var result = new LoadResult();
            var latencies = new double[count];
            var tasks = new Task[count];
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var due = TimeSpan.FromTicks(TimeSpan.TicksPerSecond * (long)i / rate);
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1)) await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                var channel = i % Channels;
                var number = ++numbers[channel] + 1; // 2, 3, ...: changes after the sync
                var index = i;
                tasks[i] = SendAsync(http, address, channel, number, expiration, latencies, index, result, cancellationToken);
            }

            await Task.WhenAll(tasks).ConfigureAwait(false);
            result.Wall = clock.Elapsed;
            result.Latencies.AddRange(latencies);
            return result;
        }

        private static async Task SendAsync(HttpClient http, Uri address, int channel, long number, string expiration, double[] latencies, int index, LoadResult result, CancellationToken cancellationToken)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, address) { Content = new ByteArrayContent(Array.Empty<byte>()) };
            request.Headers.TryAddWithoutValidation("X-Goog-Channel-ID", ChannelId(channel));
            request.Headers.TryAddWithoutValidation("X-Goog-Message-Number", number.ToString(CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("X-Goog-Resource-ID", "resource" + channel.ToString("D19", CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("X-Goog-Resource-State", "exists");
            request.Headers.TryAddWithoutValidation("X-Goog-Resource-URI", "https://www.googleapis.com/calendar/v3/calendars/" + Uri.EscapeDataString(BenchmarkRunner.RoomId(channel % BenchmarkRunner.Rooms)) + "/events?alt=json");
            request.Headers.TryAddWithoutValidation("X-Goog-Channel-Expiration", expiration);
            request.Headers.TryAddWithoutValidation("X-Goog-Channel-Token", "tenant=" + channel.ToString(CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)");
            var started = Stopwatch.GetTimestamp();
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
                latencies[index] = (Stopwatch.GetTimestamp() - started) * 1000.0 / Stopwatch.Frequency;
                if (response.StatusCode != HttpStatusCode.OK) Interlocked.Increment(ref result.NotOk);
            }
            catch (HttpRequestException)
            {
                latencies[index] = (Stopwatch.GetTimestamp() - started) * 1000.0 / Stopwatch.Frequency;
                Interlocked.Increment(ref result.NotOk);
            }
        }

        private static Process StartPowerShell(string? pwshPath, string manifest, int port, int count, string record, string csv)
        {
            ProcessStartInfo psi;
            if (string.IsNullOrEmpty(pwshPath))
            {
                var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
                psi = new ProcessStartInfo(string.IsNullOrEmpty(host) ? "dotnet" : host!) { WorkingDirectory = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(manifest)))) };
                psi.ArgumentList.Add("pwsh");
            }
            else
            {
                psi = new ProcessStartInfo(pwshPath!);
            }

            foreach (var argument in new[] { "-NoProfile", "-NonInteractive", "-Command", Script }) psi.ArgumentList.Add(argument);
            psi.UseShellExecute = false;
            psi.RedirectStandardOutput = true;
            psi.RedirectStandardError = true;
            psi.CreateNoWindow = true;
            psi.Environment["CW_MANIFEST"] = manifest;
            psi.Environment["CW_PORT"] = port.ToString(CultureInfo.InvariantCulture);
            psi.Environment["CW_COUNT"] = count.ToString(CultureInfo.InvariantCulture);
            psi.Environment["CW_RECORD"] = record;
            psi.Environment["CW_CSV"] = csv;
            psi.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
            psi.Environment["POWERSHELL_UPDATECHECK"] = "Off";
            psi.Environment["DOTNET_NOLOGO"] = "1";
            return Process.Start(psi) ?? throw new InvalidOperationException($"'{psi.FileName}' did not start.");
        }

        /// <summary>Reads the receiver's output until its -Verbose "Listening on" line (a signal, not a poll of the port).</summary>
        private static async Task WaitForListeningAsync(Process pwsh, CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            while (true)
            {
                var text = await pwsh.StandardOutput.ReadLineAsync(timeout.Token).ConfigureAwait(false);
                if (text is null) throw new InvalidOperationException($"PowerShell ended before the receiver listened: {await pwsh.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)}");
                if (text.Contains("Listening on", StringComparison.Ordinal)) return;
            }
        }

        private static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                return ((IPEndPoint)listener.LocalEndpoint).Port;
            }
            finally
            {
                listener.Stop();
            }
        }

        private static double Percentile(double[] sorted, double share)
        {
            if (sorted.Length == 0) return 0;
            var index = (int)Math.Ceiling(share * sorted.Length) - 1;
            return sorted[Math.Max(0, Math.Min(sorted.Length - 1, index))];
        }
    }
}
