using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// The channel record: listing and filtering a large record (what Get-/Update-CalendarChannel do), and what
    /// recording costs each watch (a Pending row before the request, Active after it). Figures:
    /// store_list_100k, store_filter_100k (seconds, median of the runs), store_write_per_channel (ms per pair, one
    /// writer, synchronous=NORMAL) and store_write_per_channel_full_sync (the same with synchronous=FULL).
    /// </summary>
    internal static class StoreBenchmark
    {
        public static void Run(BenchmarkOptions options, Action<string, double, string> line, Action<string> note)
        {
            var folder = Path.Combine(Path.GetTempPath(), "cw-store-bench-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                var now = DateTimeOffset.UtcNow;
                var runs = options.Smoke ? 1 : 3;
                var large = Path.Combine(folder, "large.db");
                using (var seeding = ChannelStore.Open(large))
                {
                    note($"channel record: SQLite {SqliteNative.Version}, {options.StoreRecords} rows over {BenchmarkRunner.Rooms} calendars, median of {runs} runs");
                    var seed = Stopwatch.StartNew();
                    seeding.Insert(Seed(options.StoreRecords, now));
                    line("store_records", options.StoreRecords, "count");
                    line("store_seed_wall", seed.Elapsed.TotalSeconds, "s");
                }

                // Listed by a later process, as Get-CalendarChannel would.
                var open = Stopwatch.StartNew();
                using (var store = ChannelStore.Open(large))
                {
                    line("store_open_100k", open.Elapsed.TotalSeconds, "s");

                    var listed = 0;
                    var list = Median(runs, () => listed = store.Query(new ChannelQuery { AllStates = true, Now = now }).Count());
                    line("store_list_100k", list.Wall.TotalSeconds, "s");
                    line("store_list_100k_cpu", list.Cpu.TotalSeconds, "s");
                    line("store_list_rows", listed, "count");

                    // What a renewal asks: one calendar's Active channels that lapse within three days.
                    var filter = new ChannelQuery
                    {
                        CalendarId = BenchmarkRunner.RoomId(7),
                        States = new[] { ChannelState.Active },
                        ExpiringWithin = TimeSpan.FromDays(3),
                        Now = now,
                    };
                    var filtered = 0;
                    var filterTime = Median(runs, () => filtered = store.Query(filter).Count());
                    line("store_filter_100k", filterTime.Wall.TotalSeconds, "s");
                    line("store_filter_rows", filtered, "count");

                    // The default view over the whole record (no index narrows it to one calendar).
                    var live = 0;
                    var liveTime = Median(runs, () => live = store.Query(new ChannelQuery { Now = now }).Count());
                    line("store_live_100k", liveTime.Wall.TotalSeconds, "s");
                    line("store_live_100k_cpu", liveTime.Cpu.TotalSeconds, "s");
                    line("store_live_rows", live, "count");
                }

                var normal = WritePairs(Path.Combine(folder, "normal.db"), ChannelStoreDurability.ProcessCrash, options.StoreWrites);
                line("store_write_per_channel", normal.Wall, "ms");
                line("store_write_per_channel_cpu", normal.Cpu, "ms");
                var full = WritePairs(Path.Combine(folder, "full.db"), ChannelStoreDurability.SystemCrash, options.StoreWrites);
                line("store_write_per_channel_full_sync", full.Wall, "ms");
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

        /// <summary>Milliseconds per RecordPending + MarkActiveLater, one writer, as each watch of a run pays them.</summary>
        private static (double Wall, double Cpu) WritePairs(string path, ChannelStoreDurability durability, int count)
        {
            using var store = ChannelStore.Open(path, new ChannelStoreOptions { Durability = durability });
            var address = new Uri("https://hooks.example.com/calendar");
            var expiration = DateTimeOffset.UtcNow.AddDays(7);
            void Pair(string id, int i)
            {
                store.RecordPending(new WatchRequest { CalendarId = BenchmarkRunner.RoomId(i % BenchmarkRunner.Rooms), ChannelId = id, Address = address }, "bench@example.iam.gserviceaccount.com", null);
                // As a watch records it: the Active mark rides with the next Pending row.
                store.MarkActiveLater(id, new Channel { Id = id, ResourceId = "resource-" + (i % BenchmarkRunner.Rooms).ToString(CultureInfo.InvariantCulture), Expiration = expiration });
            }

            for (var i = 0; i < 20; i++) Pair("warmup-" + i.ToString(CultureInfo.InvariantCulture), i);
            var time = Median(1, () =>
            {
                for (var i = 0; i < count; i++) Pair("write-" + i.ToString(CultureInfo.InvariantCulture), i);
            });
            return (time.Wall.TotalMilliseconds / Math.Max(1, count), time.Cpu.TotalMilliseconds / Math.Max(1, count));
        }

        /// <summary>
        /// The run with the median wall time, and the process CPU time it took (on a shared machine the wall time
        /// includes waiting for a core; the CPU time is the record's own cost).
        /// </summary>
        private static (TimeSpan Wall, TimeSpan Cpu) Median(int runs, Action run)
        {
            var times = new List<(TimeSpan Wall, TimeSpan Cpu)>();
            using var self = Process.GetCurrentProcess();
            for (var i = 0; i < runs; i++)
            {
                self.Refresh();
                var cpu = self.TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                run();
                var wall = clock.Elapsed;
                self.Refresh();
                times.Add((wall, self.TotalProcessorTime - cpu));
            }

            times.Sort((a, b) => a.Wall.CompareTo(b.Wall));
            return times[times.Count / 2];
        }

        /// <summary>
        /// A record as years of renewals leave it: 70 % Active (expirations spread over the last day and the next 30),
        /// the rest Stopped, Replaced, Failed, MayExist and Pending.
        /// </summary>
        private static IEnumerable<ChannelRecord> Seed(int count, DateTimeOffset now)
        {
            var random = new Random(42);
            for (var i = 0; i < count; i++)
            {
                var room = i % BenchmarkRunner.Rooms;
                var roll = random.Next(100);
                var state = roll < 70 ? ChannelState.Active
                    : roll < 80 ? ChannelState.Stopped
                    : roll < 85 ? ChannelState.Replaced
                    : roll < 90 ? ChannelState.Failed
                    : roll < 95 ? ChannelState.MayExist
                    : ChannelState.Pending;
                var created = now.AddDays(-random.Next(0, 365)).AddSeconds(-random.Next(86_400));
                var hasChannel = state == ChannelState.Active || state == ChannelState.Stopped || state == ChannelState.Replaced;
                var id = "seed-" + i.ToString(CultureInfo.InvariantCulture);
                yield return new ChannelRecord
                {
                    ChannelId = id,
                    State = state,
                    CalendarId = BenchmarkRunner.RoomId(room),
                    Resource = i % 5 == 0 ? WatchResource.Acl : WatchResource.Events,
                    Address = "https://hooks.example.com/calendar",
                    Token = "tok-" + room.ToString(CultureInfo.InvariantCulture),
                    Account = "bench@example.iam.gserviceaccount.com",
                    Subject = "user" + (i % 200).ToString(CultureInfo.InvariantCulture) + "@example.com",
                    TimeToLive = TimeSpan.FromDays(30),
                    ResourceId = hasChannel ? "resource-" + room.ToString(CultureInfo.InvariantCulture) : null,
                    ResourceUri = hasChannel ? "https://www.googleapis.com/calendar/v3/calendars/room/events?alt=json" : null,
                    Expiration = hasChannel ? now.AddMinutes(random.Next(-1440, 30 * 1440)) : null,
                    CreatedAt = created,
                    UpdatedAt = created,
                    LastError = state == ChannelState.Failed || state == ChannelState.MayExist ? "HTTP 503: Google's service failed." : null,
                    ReplacedBy = state == ChannelState.Replaced ? "seed-next-" + i.ToString(CultureInfo.InvariantCulture) : null,
                };
            }
        }
    }
}
