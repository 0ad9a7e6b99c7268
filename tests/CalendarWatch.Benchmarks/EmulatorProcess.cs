using System;
using System.Net;
using System.Net.Sockets;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.Http;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The emulator in its own process (`dotnet CalendarWatch.Emulator.dll --port 0 --allow-http`, with auth), so its
    /// CPU and memory never count as the client's. Its admin API (/emulator/v1/) sets faults and reads stats.
    /// </summary>
    internal sealed class EmulatorProcess : IAsyncDisposable
    {
        private const string ListeningPrefix = "Listening on ";

        /// <summary>Generous: the wait is signalled by the emulator's own line, so a start never spends it.</summary>
        private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

        private readonly Process _process;
        private readonly HttpClient _admin;
        private readonly StringBuilder _log;

        private EmulatorProcess(Process process, Uri baseUri, StringBuilder log)
        {
            _process = process;
            _log = log;
            BaseUri = baseUri;
            _admin = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        }

        public Uri BaseUri { get; }

        public static string DefaultDllPath() => Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Emulator.dll");

        /// <summary>
        /// Starts the emulator on a port it picks itself (--port 0) and returns once it prints "Listening on URL". Nothing
        /// connects before that line: a client that tries the port while the emulator binds it can make .NET's managed
        /// HttpListener fail its start (see CalendarEmulator.Listen), which a readiness probe on a port chosen in advance did.
        /// </summary>
        public static async Task<EmulatorProcess> StartAsync(string dllPath, int latencyMs, CancellationToken cancellationToken)
        {
            if (!File.Exists(dllPath))
            {
                throw new FileNotFoundException($"The emulator '{dllPath}' does not exist. Build the solution first, or give --emulator <path to CalendarWatch.Emulator.dll>.", dllPath);
            }

            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            var psi = new ProcessStartInfo(string.IsNullOrEmpty(host) ? "dotnet" : host!)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                CreateNoWindow = true,
            };
            psi.ArgumentList.Add(dllPath);
            psi.ArgumentList.Add("--port");
            psi.ArgumentList.Add("0");
            psi.ArgumentList.Add("--allow-http");
            psi.ArgumentList.Add("--latency-ms");
            psi.ArgumentList.Add(latencyMs.ToString(System.Globalization.CultureInfo.InvariantCulture));

            var log = new StringBuilder();
            var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            var process = new Process { StartInfo = psi };
            process.OutputDataReceived += (_, e) =>
            {
                Append(log, e.Data);
                if (e.Data is null)
                {
                    listening.TrySetException(new InvalidOperationException("The emulator closed its output before it said where it listens."));
                }
                else if (e.Data.StartsWith(ListeningPrefix, StringComparison.Ordinal) &&
                    Uri.TryCreate(e.Data.Substring(ListeningPrefix.Length).Trim(), UriKind.Absolute, out var uri))
                {
                    listening.TrySetResult(uri);
                }
            };
            process.ErrorDataReceived += (_, e) => Append(log, e.Data);
            if (!process.Start())
            {
                process.Dispose();
                throw new InvalidOperationException("The emulator process did not start.");
            }

            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            Uri baseUri;
            try
            {
                baseUri = await listening.Task.WaitAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is TimeoutException)
            {
                var exitCode = await StopAsync(process).ConfigureAwait(false);
                process.Dispose();
                var ended = exitCode is int code ? "it exited with code " + code.ToString(System.Globalization.CultureInfo.InvariantCulture) : "it was stopped";
                throw new InvalidOperationException($"The emulator did not say where it listens ({ex.Message}); {ended}: {Text(log)}", ex);
            }
            catch
            {
                await StopAsync(process).ConfigureAwait(false);
                process.Dispose();
                throw;
            }

            return new EmulatorProcess(process, baseUri, log);
        }

        /// <summary>PUT /emulator/v1/faults with the given knobs (EmulatorFaults' property names).</summary>
        public async Task SetFaultsAsync(object faults, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.Serialize(faults);
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await _admin.PutAsync("emulator/v1/faults", content, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"PUT /emulator/v1/faults answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
            }
        }

        /// <summary>POST /emulator/v1/calendars: a watchable calendar owned by <paramref name="owner"/>.</summary>
        public async Task CreateCalendarAsync(string id, string owner, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["id"] = id, ["owner"] = owner, ["watchable"] = true });
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await _admin.PostAsync("emulator/v1/calendars", content, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /emulator/v1/calendars answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
            }
        }

        /// <summary>POST /emulator/v1/serviceAccounts: a key the token endpoint will accept (every calendar scope granted), for these users to impersonate.</summary>
        public async Task RegisterServiceAccountAsync(string clientEmail, string clientId, string publicKeyPem, IReadOnlyList<string>? subjects, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["clientEmail"] = clientEmail, ["clientId"] = clientId, ["publicKeyPem"] = publicKeyPem, ["subjects"] = subjects ?? Array.Empty<string>() });
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await _admin.PostAsync("emulator/v1/serviceAccounts", content, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"POST /emulator/v1/serviceAccounts answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}");
            }
        }

        /// <summary>GET /emulator/v1/stats.</summary>
        public async Task<JsonDocument> GetStatsAsync(CancellationToken cancellationToken)
        {
            using var response = await _admin.GetAsync("emulator/v1/stats", cancellationToken).ConfigureAwait(false);
            response.EnsureSuccessStatusCode();
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return JsonDocument.Parse(text);
        }

        public async ValueTask DisposeAsync()
        {
            _admin.Dispose();
            await StopAsync(_process).ConfigureAwait(false);
            _process.Dispose();
        }

        /// <summary>Kills the process (when it still runs) and waits, bounded, for it to end; returns its exit code if it ended.</summary>
        private static async Task<int?> StopAsync(Process process)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
                return process.ExitCode;
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is OperationCanceledException || ex is System.ComponentModel.Win32Exception)
            {
                return null;
            }
        }

        private static void Append(StringBuilder log, string? line)
        {
            if (line is null) return;
            lock (log)
            {
                if (log.Length < 16_000) log.AppendLine(line);
            }
        }

        private static string Text(StringBuilder log)
        {
            lock (log) return log.ToString();
        }

        /// <summary>A loopback port nothing listens on (bound, noted, released).</summary>
        public static int FreePort()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }
    }
}
