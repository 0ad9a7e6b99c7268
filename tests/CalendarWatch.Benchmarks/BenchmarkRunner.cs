using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
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

        public string? EmulatorPath { get; set; }

        /// <summary>
        /// The quota run's retry time limit; null = the default limit scaled like the window (the measurement). The smoke
        /// run sets a generous one: it checks that the run works end to end, and on a loaded machine a scaled 0.6 s
        /// limit fails items whose attempts merely queue for the CPU.
        /// </summary>
        public TimeSpan? QuotaRetryTimeLimit { get; set; }

        public bool Smoke { get; set; }

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
                    case "--emulator": options.EmulatorPath = Next(); break;
                    case "--smoke":
                        options.Smoke = true;
                        options.Watches = 40;
                        options.Items = 400;
                        options.LatencyMs = 10;
                        options.ThrottleLimit = 8;
                        options.QuotaLimit = 20;
                        options.QuotaWindowMs = 300;
                        options.QuotaRetryTimeLimit = TimeSpan.FromMinutes(1);
                        break;
                    default:
                        throw new ArgumentException($"Unknown argument '{arg}'. Use --watches N --items N --latency-ms N --throttle N --quota N --quota-window-ms N --emulator PATH --smoke.");
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
            // Google's 600 per minute, scaled: QuotaLimit per QuotaWindowMs; the retry delays scale by the same factor.
            var window = TimeSpan.FromMilliseconds(options.QuotaWindowMs);
            var scale = window.TotalMilliseconds / TimeSpan.FromMinutes(1).TotalMilliseconds;
            var savedRetry = connection.Retry;
            connection.Retry = new RetrySettings
            {
                MaxRetry = savedRetry.MaxRetry,
                BaseDelay = TimeSpan.FromTicks((long)(savedRetry.BaseDelay.Ticks * scale)),
                MaxDelay = TimeSpan.FromTicks((long)(savedRetry.MaxDelay.Ticks * scale)),
                RetryTimeLimit = options.QuotaRetryTimeLimit ?? TimeSpan.FromTicks((long)(savedRetry.RetryTimeLimit.Ticks * scale)),
            };
            figures.Note($"quota run: {options.QuotaLimit} requests per {options.QuotaWindowMs} ms per user; retry settings scaled the same{(options.QuotaRetryTimeLimit is null ? string.Empty : ", but for the retry time limit (smoke run)")}: {connection.Retry}");
            await emulator.SetFaultsAsync(new Dictionary<string, object?>
            {
                ["latencyMs"] = options.LatencyMs,
                ["userRateLimit"] = options.QuotaLimit,
                ["rateLimitWindowSeconds"] = window.TotalSeconds,
                ["userRateLimitStatus"] = "403",
            }, cancellationToken).ConfigureAwait(false);

            // Start with a full window of budget: let the warm-up's and earlier runs' requests age out of it.
            await Task.Delay(window + TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
            var quota = await RunQueueAsync(client, Requests("quota", options.Watches, address), options.ThrottleLimit, null, cancellationToken).ConfigureAwait(false);
            var quotaBound = TimeSpan.FromTicks(window.Ticks * options.Watches / options.QuotaLimit);
            figures.Line("quota_failures", quota.Failed, "count");
            figures.Line("quota_retries", quota.Retries, "count");
            figures.Line("quota_wall", quota.Wall.TotalSeconds, "s");
            figures.Line("quota_bound", quotaBound.TotalSeconds, "s");
            figures.Line("quota_wall_over_bound", quota.Wall.TotalSeconds / quotaBound.TotalSeconds, "x");
            connection.Retry = savedRetry;

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
                figures.Line("token_requests", SumTokenRequests(stats.RootElement), "count");
                figures.Line("api_requests", SumRequests(stats.RootElement), "count");
            }

            return 0;
        }

        /// <summary>The calendars watched (created through the emulator's admin API, owned by its no-auth caller).</summary>
        internal const int Rooms = 50;

        internal static string RoomId(int i) => "room-" + i.ToString(CultureInfo.InvariantCulture) + "@resource.calendar.google.com";

        /// <summary>Requests made lazily, one at a time, as a pipeline would bind them.</summary>
        internal static IEnumerable<WatchRequest> Requests(string prefix, int count, Uri address)
        {
            for (var i = 0; i < count; i++)
            {
                yield return new WatchRequest
                {
                    CalendarId = RoomId(i % Rooms),
                    Resource = WatchResource.Events,
                    ChannelId = prefix + "-" + Guid.NewGuid().ToString("N"),
                    Address = address,
                };
            }
        }

        private static async Task<RunResult> RunQueueAsync(CalendarApiClient client, IEnumerable<WatchRequest> requests, int throttleLimit, Action<long>? onEach, CancellationToken cancellationToken)
        {
            // The queue is driven by one blocking thread, as the cmdlet's pipeline thread drives it.
            return await Task.Factory.StartNew(() => RunQueue(client, requests, throttleLimit, onEach, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }

        private static RunResult RunQueue(CalendarApiClient client, IEnumerable<WatchRequest> requests, int throttleLimit, Action<long>? onEach, CancellationToken cancellationToken)
        {
            var result = new RunResult();
            long expected = 0;
            var retries = 0;
            using var queue = new BoundedWorkQueue<WatchRequest, Channel>(throttleLimit, ordered: true, cancellationToken);
            void OnReady(CompletedWork<WatchRequest, Channel> done)
            {
                if (done.Sequence != expected) result.OrderViolations++;
                expected = done.Sequence + 1;
                if (!done.IsSuccess) result.Failed++;
                onEach?.Invoke(done.Sequence);
            }

            void OnRetry(RetryNotice notice) => Interlocked.Increment(ref retries);
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

        private static long SumTokenRequests(JsonElement root) => SumWhere(root, name => name.StartsWith("tokenRequestsByClient", StringComparison.OrdinalIgnoreCase) && !name.EndsWith("AndSubject", StringComparison.OrdinalIgnoreCase));

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
