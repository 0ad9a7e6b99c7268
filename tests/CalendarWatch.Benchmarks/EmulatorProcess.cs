using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The emulator in its own process (`dotnet CalendarWatch.Emulator.dll --port N --allow-http`, with auth), so its
    /// CPU and memory never count as the client's. Its admin API (/emulator/v1/) sets faults and reads stats.
    /// </summary>
    internal sealed class EmulatorProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _admin;
        private readonly StringBuilder _log = new StringBuilder();

        private EmulatorProcess(Process process, Uri baseUri)
        {
            _process = process;
            BaseUri = baseUri;
            _admin = new HttpClient { BaseAddress = baseUri, Timeout = TimeSpan.FromSeconds(30) };
        }

        public Uri BaseUri { get; }

        public static string DefaultDllPath() => Path.Combine(AppContext.BaseDirectory, "CalendarWatch.Emulator.dll");

        public static async Task<EmulatorProcess> StartAsync(string dllPath, int latencyMs, CancellationToken cancellationToken)
        {
            if (!File.Exists(dllPath))
            {
                throw new FileNotFoundException($"The emulator '{dllPath}' does not exist. Build the solution first, or give --emulator <path to CalendarWatch.Emulator.dll>.", dllPath);
            }

            var port = FreePort();
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
            psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            psi.ArgumentList.Add("--allow-http");
            psi.ArgumentList.Add("--latency-ms");
            psi.ArgumentList.Add(latencyMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
            var process = Process.Start(psi) ?? throw new InvalidOperationException("The emulator process did not start.");
            var emulator = new EmulatorProcess(process, new Uri($"http://127.0.0.1:{port}/"));
            process.OutputDataReceived += (_, e) => emulator.Append(e.Data);
            process.ErrorDataReceived += (_, e) => emulator.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            try
            {
                await emulator.WaitReadyAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await emulator.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            return emulator;
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

        /// <summary>POST /emulator/v1/serviceAccounts: a key the token endpoint will accept (every calendar scope granted).</summary>
        public async Task RegisterServiceAccountAsync(string clientEmail, string clientId, string publicKeyPem, CancellationToken cancellationToken)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["clientEmail"] = clientEmail, ["clientId"] = clientId, ["publicKeyPem"] = publicKeyPem, ["subjects"] = Array.Empty<string>() });
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
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is InvalidOperationException || ex is OperationCanceledException)
            {
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_log)
            {
                if (_log.Length < 16_000) _log.AppendLine(line);
            }
        }

        private async Task WaitReadyAsync(CancellationToken cancellationToken)
        {
            // A readiness probe, not a sleep: ask until the server answers or the process dies (bounded).
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"The emulator exited with code {_process.ExitCode} before it answered: {Log()}");
                }

                try
                {
                    using var response = await _admin.GetAsync("emulator/v1/stats", cancellationToken).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.OK) return;
                }
                catch (HttpRequestException)
                {
                }

                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }

            throw new TimeoutException($"The emulator did not answer at {BaseUri} within 60 s: {Log()}");
        }

        private string Log()
        {
            lock (_log) return _log.ToString();
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
