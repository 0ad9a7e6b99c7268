using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net.Http;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Auth;

namespace CalendarWatch.Benchmarks
{
    /// <summary>The benchmark's options: sizes and knobs (see <see cref="Parse"/> for the flags).</summary>
    public sealed class BenchmarkOptions
    {
        public int Watches { get; set; } = 1000;

        public int Items { get; set; } = 100_000;

        public int LatencyMs { get; set; } = 50;

        public int ThrottleLimit { get; set; } = 16;

        /// <summary>Requests per <see cref="QuotaWindowMs"/> per user: Google's 600/min scaled down 60× in time.</summary>
        public int QuotaLimit { get; set; } = 100;

        public int QuotaWindowMs { get; set; } = 1000;

        /// <summary>Rows in the channel record that is listed and filtered.</summary>
        public int StoreRecords { get; set; } = 100_000;

        /// <summary>Pending + Active pairs written to time one channel's recording.</summary>
        public int StoreWrites { get; set; } = 1000;
        /// <summary>The long window of the quota runs at default settings; its limit keeps the same rate (QuotaLimit per QuotaWindowMs).</summary>
        public int QuotaLongWindowMs { get; set; } = 10_000;

        /// <summary>Watches of the long-window quota runs; 0 = three windows' worth.</summary>
        public int QuotaLongWatches { get; set; }

        /// <summary>Retry-After (whole seconds, as HTTP has it) of the quota runs' 429 answers.</summary>
        public int RetryAfterSeconds { get; set; } = 1;

        /// <summary>The long window's limit: the same rate as QuotaLimit per QuotaWindowMs.</summary>
        public int QuotaLongLimit => Math.Max(1, (int)((long)QuotaLimit * QuotaLongWindowMs / Math.Max(1, QuotaWindowMs)));

        public string? EmulatorPath { get; set; }

        /// <summary>Fresh PowerShell processes that each time one Import-Module of the built module.</summary>
        public int ImportRuns { get; set; } = 9;

        /// <summary>The built module's manifest; default output/CalendarWatch/&lt;version&gt;/CalendarWatch.psd1.</summary>
        public string? ModulePath { get; set; }

        /// <summary>The PowerShell to start; default the repository's local tool (dotnet pwsh).</summary>
        public string? PwshPath { get; set; }

        /// <summary>Only the Import-Module figure: no emulator, no watches.</summary>
        public bool ImportOnly { get; set; }

        /// <summary>
        /// The quota run's retry time limit; null = the default limit scaled like the window (the measurement). The smoke
        /// run sets a generous one: it checks that the run works end to end, and on a loaded machine a scaled 0.6 s
        /// limit fails items whose attempts merely queue for the CPU.
        /// </summary>
        public TimeSpan? QuotaRetryTimeLimit { get; set; }

        public bool Smoke { get; set; }

        /// <summary>Only the channel record's figures (no emulator).</summary>
        public bool StoreOnly { get; set; }
        /// <summary>Print the pacer's state as notes whenever it changes during the quota runs at default settings.</summary>
        public bool TracePacer { get; set; }

        /// <summary>Only the quota runs at default settings and the closed ports (sections 5 and 6).</summary>
        public bool QuotaOnly { get; set; }

        /// <summary>Only the lifecycle in PowerShell (section 8): the record's cost and the renewal under quotas.</summary>
        public bool LifecycleOnly { get; set; }

        /// <summary>Channels renewed under quotas in section 8, spread over <see cref="RenewSubjects"/> users.</summary>
        public int RenewChannels { get; set; } = 2000;

        public int RenewSubjects { get; set; } = 20;

        /// <summary>Section 8's per-user limit per 1 s window: Google's 600 per minute scaled by 1/60.</summary>
        public int RenewUserLimit { get; set; } = 10;

        /// <summary>Section 8's project limit per 1 s window: Google's 10,000 per minute scaled by 1/60.</summary>
        public int RenewProjectLimit { get; set; } = 166;

        /// <summary>Notifications posted to the receiver (Receive-CalendarNotification | Export-Csv).</summary>
        public int ReceiveCount { get; set; } = 20_000;

        /// <summary>Notifications per second the load generator offers the receiver.</summary>
        public int ReceiveRate { get; set; } = 2000;

        /// <summary>Only the receiver's figures (and the import time): no emulator.</summary>
        public bool ReceiveOnly { get; set; }

        /// <summary>Only the pipeline in PowerShell (section 9) and the import time: first and second run, CPU per channel.</summary>
        public bool PipelineOnly { get; set; }

        /// <summary>Sequential requests that measure the emulator's time per request for section 9's bound.</summary>
        public int PipelineSample { get; set; } = 200;

        /// <summary>Watches of section 9's zero-latency run (after a warm-up of a quarter as many).</summary>
        public int PipelineCpuWatches { get; set; } = 20_000;

        public static BenchmarkOptions Parse(IReadOnlyList<string> args)
        {
            var options = new BenchmarkOptions();
            for (var i = 0; i < args.Count; i++)
            {
                var arg = args[i];
                string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
                int NextInt()
                {
                    var text = Next();
                    return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= 0
                        ? n
                        : throw new ArgumentException($"{arg} needs a non-negative whole number, not '{text}'.");
                }

                switch (arg)
                {
                    case "--watches": options.Watches = NextInt(); break;
                    case "--items": options.Items = NextInt(); break;
                    case "--latency-ms": options.LatencyMs = NextInt(); break;
                    case "--throttle": options.ThrottleLimit = Math.Max(1, NextInt()); break;
                    case "--quota": options.QuotaLimit = Math.Max(1, NextInt()); break;
                    case "--quota-window-ms": options.QuotaWindowMs = Math.Max(1, NextInt()); break;
                    case "--quota-long-window-ms": options.QuotaLongWindowMs = Math.Max(1, NextInt()); break;
                    case "--quota-long-watches": options.QuotaLongWatches = NextInt(); break;
                    case "--retry-after": options.RetryAfterSeconds = NextInt(); break;
                    case "--emulator": options.EmulatorPath = Next(); break;
                    case "--store-records": options.StoreRecords = NextInt(); break;
                    case "--store-writes": options.StoreWrites = Math.Max(1, NextInt()); break;
                    case "--store-only": options.StoreOnly = true; break;
                    case "--import-runs": options.ImportRuns = Math.Max(1, NextInt()); break;
                    case "--module": options.ModulePath = Next(); break;
                    case "--pwsh": options.PwshPath = Next(); break;
                    case "--import-only": options.ImportOnly = true; break;
                    case "--trace-pacer": options.TracePacer = true; break;
                    case "--quota-only": options.QuotaOnly = true; break;
                    case "--lifecycle-only": options.LifecycleOnly = true; break;
                    case "--renew-channels": options.RenewChannels = Math.Max(1, NextInt()); break;
                    case "--renew-subjects": options.RenewSubjects = Math.Max(1, NextInt()); break;
                    case "--receive-count": options.ReceiveCount = Math.Max(1, NextInt()); break;
                    case "--receive-rate": options.ReceiveRate = Math.Max(1, NextInt()); break;
                    case "--receive-only": options.ReceiveOnly = true; break;
                    case "--pipeline-only": options.PipelineOnly = true; break;
                    case "--pipeline-sample": options.PipelineSample = Math.Max(1, NextInt()); break;
                    case "--pipeline-cpu-watches": options.PipelineCpuWatches = Math.Max(1, NextInt()); break;
                    case "--smoke":
                        options.Smoke = true;
                        options.Watches = 40;
                        options.Items = 400;
                        options.LatencyMs = 10;
                        options.ThrottleLimit = 8;
                        options.QuotaLimit = 20;
                        options.QuotaWindowMs = 300;
                        options.StoreRecords = 2000;
                        options.StoreWrites = 50;
                        options.ImportRuns = 1;
                        options.QuotaLongWindowMs = 600;
                        options.QuotaRetryTimeLimit = TimeSpan.FromMinutes(1);
                        options.RenewChannels = 60;
                        options.RenewSubjects = 3;
                        options.ReceiveCount = 200;
                        options.ReceiveRate = 200;
                        options.PipelineSample = 10;
                        options.PipelineCpuWatches = 200;
                        break;
                    default:
                        throw new ArgumentException($"Unknown argument '{arg}'. Use --watches N --items N --latency-ms N --throttle N --quota N --quota-window-ms N --quota-long-window-ms N --quota-long-watches N --retry-after N --store-records N --store-writes N --store-only --emulator PATH --import-runs N --module PATH --pwsh PATH --import-only --trace-pacer --quota-only --lifecycle-only --renew-channels N --renew-subjects N --receive-count N --receive-rate N --receive-only --pipeline-only --pipeline-sample N --pipeline-cpu-watches N --smoke.");
                }
            }

            return options;
        }
    }

    /// <summary>
    /// Runs the scale benchmark against an emulator in its own process and prints one <c>name value unit</c> line
    /// per figure (lines starting with # are notes).
    /// </summary>
    public static class BenchmarkRunner
    {
        public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, CancellationToken cancellationToken = default)
        {
            BenchmarkOptions options;
            try
            {
                options = BenchmarkOptions.Parse(args);
            }
            catch (ArgumentException ex)
            {
                output.WriteLine("# error: " + ex.Message);
                return 2;
            }

            var figures = new Figures(output);
            figures.Note($"CalendarWatch benchmark: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}{(options.Smoke ? ", smoke sizes" : string.Empty)}");
            figures.Line("processor_count", Environment.ProcessorCount, "cores");
            if (options.StoreOnly)
            {
                StoreBenchmark.Run(options, figures.Line, figures.Note);
                return 0;
            }

            // 0. Import-Module in a fresh PowerShell, before the emulator starts so that nothing else runs meanwhile.
            var imports = await ImportBenchmark.MeasureAsync(options.ModulePath ?? ImportBenchmark.DefaultManifestPath(), options.PwshPath, options.ImportRuns, cancellationToken).ConfigureAwait(false);
            figures.Note("Import-Module wall/CPU (ms), one fresh PowerShell each: " + string.Join(" ", imports.Select(t => string.Create(CultureInfo.InvariantCulture, $"{t.Wall:0.0}/{t.Cpu:0.0}"))));
            figures.Line("import_module_runs", imports.Count, "count");
            figures.Line("import_module_median", ImportBenchmark.Median(imports.Select(t => t.Wall).ToArray()), "ms");
            figures.Line("import_module_cpu_median", ImportBenchmark.Median(imports.Select(t => t.Cpu).ToArray()), "ms");
            if (options.ImportOnly)
            {
                return 0;
            }

            // The receiver, before the emulator starts: a fresh PowerShell and the load generator share the cores with nothing else of ours.
            if (!options.QuotaOnly && !options.LifecycleOnly && !options.PipelineOnly)
            {
                await ReceiveBenchmark.RunAsync(options, options.ModulePath ?? ImportBenchmark.DefaultManifestPath(), figures.Line, figures.Note, cancellationToken).ConfigureAwait(false);
            }

            if (options.ReceiveOnly)
            {
                return 0;
            }

            if (options.PipelineOnly)
            {
                await using var pipelineEmulator = await EmulatorProcess.StartAsync(options.EmulatorPath ?? EmulatorProcess.DefaultDllPath(), options.LatencyMs, cancellationToken).ConfigureAwait(false);
                await PipelineBenchmark.RunAsync(pipelineEmulator, options, output.WriteLine, figures.Line, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            if (options.LifecycleOnly)
            {
                await using var lifecycleEmulator = await EmulatorProcess.StartAsync(options.EmulatorPath ?? EmulatorProcess.DefaultDllPath(), options.LatencyMs, cancellationToken).ConfigureAwait(false);
                await LifecycleBenchmark.RunAsync(lifecycleEmulator, options, output.WriteLine, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            var dll = options.EmulatorPath ?? EmulatorProcess.DefaultDllPath();
            await using var emulator = await EmulatorProcess.StartAsync(dll, options.LatencyMs, cancellationToken).ConfigureAwait(false);

            // One identity for the whole run, as an admin's scheduled task has: a service-account key file whose
            // token_uri is the emulator's token endpoint, so every figure includes real token handling.
            using var keyFile = await ServiceAccountKeyFile.CreateAsync(emulator, cancellationToken).ConfigureAwait(false);
            using var connection = ConnectionFactory.ConnectServiceAccount(keyFile.Path, null, null, emulator.BaseUri);
            var client = new CalendarApiClient(connection);
            for (var i = 0; i < Rooms; i++)
            {
                await emulator.CreateCalendarAsync(RoomId(i), ServiceAccountKeyFile.ClientEmail, cancellationToken).ConfigureAwait(false);
            }

            // Notifications go to the emulator itself: a path it answers 404, so each sync message is one
            // attempt in the emulator's process and costs the client nothing.
            var address = new Uri(emulator.BaseUri, "benchmark-sink");

            if (!options.QuotaOnly)
            {
                await RunLatencyQuotaAndStreamAsync(emulator, client, address, figures, options, cancellationToken).ConfigureAwait(false);
            }

            // 5. Quota pacing at DEFAULT retry settings (nothing scaled, nothing told): short and long windows, with
            // 403 userRateLimitExceeded and with 429 + Retry-After. Each run is a new identity (its own key, calendars,
            // connection and per-user window), so each learns the limit from nothing.
            var quotaRuns = new[]
            {
                ("1s", TimeSpan.FromMilliseconds(options.QuotaWindowMs), options.QuotaLimit, options.Watches),
                ("10s", TimeSpan.FromMilliseconds(options.QuotaLongWindowMs), options.QuotaLongLimit, options.QuotaLongWatches > 0 ? options.QuotaLongWatches : 3 * options.QuotaLongLimit),
            };
            var identity = 0;
            foreach (var (tag, quotaWindow, perWindow, watches) in quotaRuns)
            {
                foreach (var status in new[] { "403", "429" })
                {
                    var name = $"quota_default_{tag}_{status}";
                    figures.Note($"{name}: {perWindow} requests per {quotaWindow.TotalMilliseconds:0} ms per user, {watches} watches at ThrottleLimit {options.ThrottleLimit}, " +
                        (status == "429" ? $"429 rateLimitExceeded with Retry-After {options.RetryAfterSeconds} s" : "403 userRateLimitExceeded") + ", default retry settings");
                    var run = await RunQuotaAsync(emulator, options, $"quota-{++identity}", perWindow, quotaWindow, status, watches, address, null, options.TracePacer ? figures.Note : null, cancellationToken).ConfigureAwait(false);
                    var runBound = TimeSpan.FromTicks(quotaWindow.Ticks * watches / perWindow);
                    figures.Line(name + "_failures", run.Run.Failed, "count");
                    figures.Line(name + "_wall", run.Run.Wall.TotalSeconds, "s");
                    figures.Line(name + "_bound", runBound.TotalSeconds, "s");
                    figures.Line(name + "_wall_over_bound", run.Run.Wall.TotalSeconds / runBound.TotalSeconds, "x");
                    figures.Line(name + "_sent", run.Sent, "count");
                    figures.Line(name + "_refused", run.Refused, "count");
                    figures.Line(name + "_refused_share", 100.0 * run.Refused / Math.Max(1, run.Sent), "%");
                    figures.Note($"{name}: pacer after the run: {run.Pacer}");
                }
            }

            // 6. An endpoint that is down: the API at a closed port, then a token endpoint at a closed port, at
            // default retry settings. After a few failures to connect in a row the rest fail at once, unsent.
            await emulator.SetFaultsAsync(new Dictionary<string, object?> { ["latencyMs"] = options.LatencyMs }, cancellationToken).ConfigureAwait(false);
            var closedApi = await RunClosedApiPortAsync(options, address, cancellationToken).ConfigureAwait(false);
            var n = options.Watches.ToString(CultureInfo.InvariantCulture);
            figures.Line($"closed_port_{n}_wall", closedApi.Run.Wall.TotalSeconds, "s");
            figures.Line($"closed_port_{n}_failures", closedApi.Run.Failed, "count");
            figures.Line($"closed_port_{n}_endpoint_unreachable", closedApi.Unreachable, "count");
            figures.Line($"closed_port_{n}_connection_attempts", closedApi.Attempts, "count");
            var closedToken = await RunClosedTokenPortAsync(emulator, options, address, cancellationToken).ConfigureAwait(false);
            figures.Line($"closed_token_port_{n}_wall", closedToken.Run.Wall.TotalSeconds, "s");
            figures.Line($"closed_token_port_{n}_failures", closedToken.Run.Failed, "count");
            figures.Line($"closed_token_port_{n}_endpoint_unreachable", closedToken.Unreachable, "count");
            figures.Line($"closed_token_port_{n}_connection_attempts", closedToken.Attempts, "count");

            // 7. The channel record: a large record listed and filtered, and what recording costs each watch.
            // 8. The lifecycle in PowerShell: what the record costs the watch cmdlets, and renewal under quotas.
            if (!options.QuotaOnly)
            {
                StoreBenchmark.Run(options, figures.Line, figures.Note);
                await emulator.SetFaultsAsync(new Dictionary<string, object?> { ["latencyMs"] = options.LatencyMs }, cancellationToken).ConfigureAwait(false);
                await LifecycleBenchmark.RunAsync(emulator, options, output.WriteLine, cancellationToken).ConfigureAwait(false);

                // 9. The watch pipeline in PowerShell: the first run of a process against the measured bound, CPU per channel.
                await PipelineBenchmark.RunAsync(emulator, options, output.WriteLine, figures.Line, cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }

        /// <summary>Sections 1 to 4: latency, the scaled quota run, streaming, token requests.</summary>
        private static async Task RunLatencyQuotaAndStreamAsync(EmulatorProcess emulator, CalendarApiClient client, Uri address, Figures figures, BenchmarkOptions options, CancellationToken cancellationToken)
        {
            var connection = client.Connection;

            // Warm up JIT and connections outside every measurement.
            await RunQueueAsync(client, Requests("warmup", 64, address), options.ThrottleLimit, null, cancellationToken).ConfigureAwait(false);

            // 1. Latency: a plain sequential loop (an admin's foreach) against the queue at ThrottleLimit.
            var clock = Stopwatch.StartNew();
            var baselineFailures = 0;
            foreach (var request in Requests("baseline", options.Watches, address))
            {
                try
                {
                    await client.WatchAsync(request, cancellationToken).ConfigureAwait(false);
                }
                catch (CalendarWatchException)
                {
                    baselineFailures++;
                }
            }

            var baseline = clock.Elapsed;
            var engine = await RunQueueAsync(client, Requests("engine", options.Watches, address), options.ThrottleLimit, null, cancellationToken).ConfigureAwait(false);
            var bound = TimeSpan.FromMilliseconds((double)options.Watches * options.LatencyMs / options.ThrottleLimit);
            figures.Line("latency_ms", options.LatencyMs, "ms");
            figures.Line("watches", options.Watches, "count");
            figures.Line("baseline_sequential_wall", baseline.TotalSeconds, "s");
            figures.Line("baseline_failures", baselineFailures, "count");
            figures.Line($"engine_t{options.ThrottleLimit}_wall", engine.Wall.TotalSeconds, "s");
            figures.Line($"engine_t{options.ThrottleLimit}_failures", engine.Failed, "count");
            figures.Line("engine_order_violations", engine.OrderViolations, "count");
            figures.Line("speedup_over_baseline", baseline.TotalSeconds / engine.Wall.TotalSeconds, "x");
            figures.Line("latency_bound", bound.TotalSeconds, "s");
            figures.Line("engine_wall_over_latency_bound", engine.Wall.TotalSeconds / bound.TotalSeconds, "x");

            // The same bound with the emulator's real cost per request (the baseline's mean) instead of the added latency alone.
            figures.Line("engine_wall_over_measured_request_bound", engine.Wall.TotalSeconds / (baseline.TotalSeconds / options.ThrottleLimit), "x");

            // 2. The same watches under a per-user rate limit (403 userRateLimitExceeded, as Google answers it).
            // Google's 600 per minute, scaled: QuotaLimit per QuotaWindowMs; the retry settings scale by the same factor
            // (rate-limit answers are paced by what the pacer learns, not by these delays; the scaled RetryTimeLimit
            // still bounds each call). Section 5 runs the same at default settings. Its own identity, as there: what
            // its pacer learns must not pace the streaming below, which has no limit.
            var window = TimeSpan.FromMilliseconds(options.QuotaWindowMs);
            var scale = window.TotalMilliseconds / TimeSpan.FromMinutes(1).TotalMilliseconds;
            var defaults = new RetrySettings();
            var scaled = new RetrySettings
            {
                MaxRetry = defaults.MaxRetry,
                BaseDelay = TimeSpan.FromTicks((long)(defaults.BaseDelay.Ticks * scale)),
                MaxDelay = TimeSpan.FromTicks((long)(defaults.MaxDelay.Ticks * scale)),
                RetryTimeLimit = options.QuotaRetryTimeLimit ?? TimeSpan.FromTicks((long)(defaults.RetryTimeLimit.Ticks * scale)),
            };
            figures.Note($"quota run: {options.QuotaLimit} requests per {options.QuotaWindowMs} ms per user; retry settings scaled the same{(options.QuotaRetryTimeLimit is null ? string.Empty : ", but for the retry time limit (smoke run)")}: {scaled}");
            var quota = (await RunQuotaAsync(emulator, options, "quota-scaled", options.QuotaLimit, window, "403", options.Watches, address, scaled, null, cancellationToken).ConfigureAwait(false)).Run;
            var quotaBound = TimeSpan.FromTicks(window.Ticks * options.Watches / options.QuotaLimit);
            figures.Line("quota_failures", quota.Failed, "count");
            figures.Line("quota_retries", quota.Retries, "count");
            figures.Line("quota_wall", quota.Wall.TotalSeconds, "s");
            figures.Line("quota_bound", quotaBound.TotalSeconds, "s");
            figures.Line("quota_wall_over_bound", quota.Wall.TotalSeconds / quotaBound.TotalSeconds, "x");

            // 3. Zero latency, no limit: the client's own cost while streaming many items through the queue.
            await emulator.SetFaultsAsync(new Dictionary<string, object?> { ["latencyMs"] = 0 }, cancellationToken).ConfigureAwait(false);
            var stream = await RunStreamAsync(client, address, options, cancellationToken).ConfigureAwait(false);
            figures.Line("stream_items", options.Items, "count");
            figures.Line("stream_failures", stream.Run.Failed, "count");
            figures.Line("stream_wall", stream.Run.Wall.TotalSeconds, "s");
            figures.Line("stream_cpu_per_channel", stream.Cpu.TotalMilliseconds / Math.Max(1, options.Items), "ms");
            figures.Line("stream_peak_working_set", stream.PeakWorkingSet / 1048576.0, "MiB");
            figures.Line("stream_working_set_at_10pct", stream.WorkingSetAt10 / 1048576.0, "MiB");
            figures.Line("stream_working_set_at_end", stream.WorkingSetAtEnd / 1048576.0, "MiB");
            figures.Line("stream_managed_heap_growth", (stream.HeapAtEnd - stream.HeapAt10) / 1048576.0, "MiB");

            // 4. Token requests the emulator saw for the whole run.
            using (var stats = await emulator.GetStatsAsync(cancellationToken).ConfigureAwait(false))
            {
                figures.Line("identities", 1, "count");
                figures.Line("token_requests", TokenRequestsOf(stats.RootElement, ServiceAccountKeyFile.ClientId), "count");
                figures.Line("api_requests", SumRequests(stats.RootElement), "count");
            }
        }

        /// <summary>
        /// Watches under a per-user limit as a new identity (its own key, calendars, connection, pacer and per-user
        /// window at the emulator), at <paramref name="retry"/> settings (null = defaults).
        /// </summary>
        private static async Task<QuotaRunResult> RunQuotaAsync(EmulatorProcess emulator, BenchmarkOptions options, string identity, int perWindow, TimeSpan window, string status, int watches, Uri address, RetrySettings? retry, Action<string>? trace, CancellationToken cancellationToken)
        {
            var email = identity + "@calendarwatch-bench.iam.gserviceaccount.com";
            var clientId = string.Create(CultureInfo.InvariantCulture, $"2000000000000000{Interlocked.Increment(ref _identities):D5}");
            using var keyFile = await ServiceAccountKeyFile.CreateAsync(emulator, email, clientId, new Uri(emulator.BaseUri, "token"), cancellationToken).ConfigureAwait(false);
            string Room(int i) => $"{identity}-room-{i % QuotaRooms}@resource.calendar.google.com";
            for (var i = 0; i < QuotaRooms; i++)
            {
                await emulator.CreateCalendarAsync(Room(i), email, cancellationToken).ConfigureAwait(false);
            }

            using var connection = ConnectionFactory.ConnectServiceAccount(keyFile.Path, null, null, emulator.BaseUri);
            if (retry != null) connection.Retry = retry;
            var client = new CalendarApiClient(connection);

            // The token is fetched before the clock starts (it costs the quota nothing).
            await connection.TokenSource.GetAccessTokenAsync(null, ApiMethod.EventsWatch.Narrowest, null, cancellationToken).ConfigureAwait(false);
            await emulator.SetFaultsAsync(new Dictionary<string, object?>
            {
                ["latencyMs"] = options.LatencyMs,
                ["userRateLimit"] = perWindow,
                ["rateLimitWindowSeconds"] = window.TotalSeconds,
                ["userRateLimitStatus"] = status,
                ["retryAfterSeconds"] = options.RetryAfterSeconds,
            }, cancellationToken).ConfigureAwait(false);
            var before = await WatchRequestsAsync(emulator, cancellationToken).ConfigureAwait(false);
            using var tracing = new CancellationTokenSource();
            var tracer = trace is null ? Task.CompletedTask : TracePacerAsync(client, trace, tracing.Token);
            var run = await RunQueueAsync(client, Requests("quota-default", watches, address, Room), options.ThrottleLimit, null, cancellationToken).ConfigureAwait(false);
            tracing.Cancel();
            await tracer.ConfigureAwait(false);
            var sent = await WatchRequestsAsync(emulator, cancellationToken).ConfigureAwait(false) - before;
            await emulator.SetFaultsAsync(new Dictionary<string, object?> { ["latencyMs"] = options.LatencyMs }, cancellationToken).ConfigureAwait(false);
            return new QuotaRunResult { Run = run, Sent = sent, Refused = sent - (watches - run.Failed), Pacer = client.PacerFor(null)?.ToString() ?? "-" };
        }

        private static async Task TracePacerAsync(CalendarApiClient client, Action<string> trace, CancellationToken cancellationToken)
        {
            var clock = Stopwatch.StartNew();
            var last = string.Empty;
            while (!cancellationToken.IsCancellationRequested)
            {
                var now = client.PacerFor(null)?.ToString() ?? "-";
                if (now != last) trace(string.Create(CultureInfo.InvariantCulture, $"  {clock.Elapsed.TotalSeconds:0.000} s: {now}"));
                last = now;
                try
                {
                    await Task.Delay(20, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }

        private static async Task<long> WatchRequestsAsync(EmulatorProcess emulator, CancellationToken cancellationToken)
        {
            using var stats = await emulator.GetStatsAsync(cancellationToken).ConfigureAwait(false);
            return stats.RootElement.TryGetProperty("requestsByMethod", out var byMethod) && byMethod.TryGetProperty("calendar.events.watch", out var n) ? n.GetInt64() : 0;
        }

        private static async Task<ClosedPortResult> RunClosedApiPortAsync(BenchmarkOptions options, Uri address, CancellationToken cancellationToken)
        {
            var port = EmulatorProcess.FreePort();
            var counter = new AttemptCounter(new SocketsHttpHandler());
            using var connection = new CalendarConnection(ConnectionKind.AccessToken, new Uri($"http://127.0.0.1:{port}/"), new StaticTokenSource("benchmark-token"), handler: counter);
            var client = new CalendarApiClient(connection);
            var result = new ClosedPortResult();
            result.Run = await RunQueueAsync(client, Requests("closed", options.Watches, address), options.ThrottleLimit, null, cancellationToken, result.Observe).ConfigureAwait(false);
            result.Attempts = counter.Attempts;
            return result;
        }

        private static async Task<ClosedPortResult> RunClosedTokenPortAsync(EmulatorProcess emulator, BenchmarkOptions options, Uri address, CancellationToken cancellationToken)
        {
            var port = EmulatorProcess.FreePort();
            using var keyFile = await ServiceAccountKeyFile.CreateAsync(emulator, "closed-token@calendarwatch-bench.iam.gserviceaccount.com", "300000000000000000001", new Uri($"http://127.0.0.1:{port}/token"), cancellationToken).ConfigureAwait(false);
            using var connection = ConnectionFactory.ConnectServiceAccount(keyFile.Path, null, null, emulator.BaseUri);
            var client = new CalendarApiClient(connection);
            var result = new ClosedPortResult();
            result.Run = await RunQueueAsync(client, Requests("closed-token", options.Watches, address), options.ThrottleLimit, null, cancellationToken, result.Observe).ConfigureAwait(false);

            // Nothing ever connected, so every token request is in the count of failures to connect in a row.
            result.Attempts = connection.TokenHealth.FailuresInARow;
            return result;
        }

        /// <summary>The calendars watched (created through the emulator's admin API, owned by its no-auth caller).</summary>
        internal const int Rooms = 50;

        /// <summary>The calendars of each quota identity.</summary>
        internal const int QuotaRooms = 10;

        private static int _identities;

        internal static string RoomId(int i) => "room-" + i.ToString(CultureInfo.InvariantCulture) + "@resource.calendar.google.com";

        /// <summary>Requests made lazily, one at a time, as a pipeline would bind them.</summary>
        internal static IEnumerable<WatchRequest> Requests(string prefix, int count, Uri address, Func<int, string>? room = null)
        {
            for (var i = 0; i < count; i++)
            {
                yield return new WatchRequest
                {
                    CalendarId = room is null ? RoomId(i % Rooms) : room(i),
                    Resource = WatchResource.Events,
                    ChannelId = prefix + "-" + Guid.NewGuid().ToString("N"),
                    Address = address,
                };
            }
        }

        private static async Task<RunResult> RunQueueAsync(CalendarApiClient client, IEnumerable<WatchRequest> requests, int throttleLimit, Action<long>? onEach, CancellationToken cancellationToken, Action<Exception>? onFailure = null, Action<RetryNotice>? onRetry = null)
        {
            // The queue is driven by one blocking thread, as the cmdlet's pipeline thread drives it.
            return await Task.Factory.StartNew(() => RunQueue(client, requests, throttleLimit, onEach, cancellationToken, onFailure, onRetry), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }

        private static RunResult RunQueue(CalendarApiClient client, IEnumerable<WatchRequest> requests, int throttleLimit, Action<long>? onEach, CancellationToken cancellationToken, Action<Exception>? onFailure, Action<RetryNotice>? onRetry)
        {
            var result = new RunResult();
            long expected = 0;
            var retries = 0;
            using var queue = new BoundedWorkQueue<WatchRequest, Channel>(throttleLimit, ordered: true, cancellationToken);
            void OnReady(CompletedWork<WatchRequest, Channel> done)
            {
                if (done.Sequence != expected) result.OrderViolations++;
                expected = done.Sequence + 1;
                if (!done.IsSuccess)
                {
                    result.Failed++;
                    if (done.Exception != null) onFailure?.Invoke(done.Exception);
                }

                onEach?.Invoke(done.Sequence);
            }

            void OnRetry(RetryNotice notice)
            {
                Interlocked.Increment(ref retries);
                onRetry?.Invoke(notice);
            }
            var clock = Stopwatch.StartNew();
            foreach (var request in requests)
            {
                queue.Enqueue(request, ct => client.WatchAsync(request, OnRetry, ct), OnReady);
            }

            queue.Complete(OnReady);
            result.Wall = clock.Elapsed;
            result.Retries = retries;
            return result;
        }

        private static async Task<StreamResult> RunStreamAsync(CalendarApiClient client, Uri address, BenchmarkOptions options, CancellationToken cancellationToken)
        {
            var result = new StreamResult();
            using var self = Process.GetCurrentProcess();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            var tenth = Math.Max(1, options.Items / 10);
            void OnEach(long sequence)
            {
                if (sequence + 1 == tenth)
                {
                    result.HeapAt10 = GC.GetTotalMemory(true);
                    self.Refresh();
                    result.WorkingSetAt10 = self.WorkingSet64;
                }
            }

            result.Run = await RunQueueAsync(client, Requests("stream", options.Items, address), options.ThrottleLimit, OnEach, cancellationToken).ConfigureAwait(false);
            self.Refresh();
            result.Cpu = self.TotalProcessorTime - cpuBefore;
            result.WorkingSetAtEnd = self.WorkingSet64;
            result.PeakWorkingSet = self.PeakWorkingSet64;
            result.HeapAtEnd = GC.GetTotalMemory(true);
            return result;
        }

        /// <summary>The token requests of one client id (the quota runs' identities have their own).</summary>
        private static long TokenRequestsOf(JsonElement root, string clientId) =>
            root.ValueKind == JsonValueKind.Object && root.TryGetProperty("tokenRequestsByClient", out var byClient) && byClient.ValueKind == JsonValueKind.Object &&
            byClient.TryGetProperty(clientId, out var n) && n.ValueKind == JsonValueKind.Number ? n.GetInt64() : 0;

        private static long SumRequests(JsonElement root) => SumWhere(root, name => name.Equals("requestsByMethod", StringComparison.OrdinalIgnoreCase));

        private static long SumWhere(JsonElement root, Func<string, bool> match)
        {
            long sum = 0;
            if (root.ValueKind != JsonValueKind.Object) return 0;
            foreach (var property in root.EnumerateObject())
            {
                if (!match(property.Name) || property.Value.ValueKind != JsonValueKind.Object) continue;
                foreach (var entry in property.Value.EnumerateObject())
                {
                    if (entry.Value.ValueKind == JsonValueKind.Number) sum += entry.Value.GetInt64();
                }
            }

            return sum;
        }

        private sealed class RunResult
        {
            public TimeSpan Wall { get; set; }

            public long Failed { get; set; }

            public long OrderViolations { get; set; }

            public int Retries { get; set; }
        }

        private sealed class QuotaRunResult
        {
            public RunResult Run { get; set; } = new RunResult();

            public long Sent { get; set; }

            public long Refused { get; set; }

            public string Pacer { get; set; } = string.Empty;
        }

        private sealed class ClosedPortResult
        {
            public RunResult Run { get; set; } = new RunResult();

            public long Unreachable { get; private set; }

            public long Attempts { get; set; }

            public void Observe(Exception exception)
            {
                if ((exception as CalendarWatchException)?.ErrorId == "CalendarWatch.EndpointUnreachable") Unreachable++;
            }
        }

        /// <summary>Counts the HTTP attempts a connection makes (each one tries to connect when nothing is pooled).</summary>
        private sealed class AttemptCounter : DelegatingHandler
        {
            private long _attempts;

            public AttemptCounter(HttpMessageHandler inner)
                : base(inner)
            {
            }

            public long Attempts => Interlocked.Read(ref _attempts);

            protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            {
                Interlocked.Increment(ref _attempts);
                return base.SendAsync(request, cancellationToken);
            }
        }

        private sealed class StreamResult
        {
            public RunResult Run { get; set; } = new RunResult();

            public TimeSpan Cpu { get; set; }

            public long WorkingSetAt10 { get; set; }

            public long WorkingSetAtEnd { get; set; }

            public long PeakWorkingSet { get; set; }

            public long HeapAt10 { get; set; }

            public long HeapAtEnd { get; set; }
        }

        private sealed class Figures
        {
            private readonly TextWriter _output;

            public Figures(TextWriter output) => _output = output;

            public void Line(string name, double value, string unit)
            {
                _output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} {Math.Round(value, 4)} {unit}"));
                _output.Flush();
            }

            public void Note(string text)
            {
                _output.WriteLine("# " + text);
                _output.Flush();
            }
        }
    }
}
