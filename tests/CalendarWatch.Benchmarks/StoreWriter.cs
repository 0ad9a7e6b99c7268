using System;
using System.Globalization;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Benchmarks
{
    /// <summary>
    /// A hidden mode of the benchmark program (<c>--store-writer PATH PREFIX COUNT [THREADS]</c>): a process that writes
    /// COUNT channels (Pending, then Active) into the channel record at PATH from THREADS threads, and prints
    /// <c>pending ID</c> / <c>active ID</c> as soon as each write has returned (so: committed), then <c>done COUNT</c>.
    /// The multi-process and kill tests of the store run it.
    /// </summary>
    public static class StoreWriter
    {
        public const string Flag = "--store-writer";

        public static int Run(string[] args, TextWriter output)
        {
            if (args.Length < 4 || args[0] != Flag ||
                !int.TryParse(args[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var count) || count < 0)
            {
                output.WriteLine("# usage: " + Flag + " PATH PREFIX COUNT [THREADS]");
                return 2;
            }

            var threads = 1;
            if (args.Length > 4 && (!int.TryParse(args[4], NumberStyles.Integer, CultureInfo.InvariantCulture, out threads) || threads < 1))
            {
                output.WriteLine("# THREADS must be a positive whole number.");
                return 2;
            }

            var path = args[1];
            var prefix = args[2];
            var address = new Uri("https://hooks.example.com/calendar");
            using var store = ChannelStore.Open(path);
            output.WriteLine("ready");
            var next = -1;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
            {
                for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
                {
                    var id = prefix + "-" + i.ToString(CultureInfo.InvariantCulture);
                    var calendar = "room-" + (i % 10).ToString(CultureInfo.InvariantCulture) + "@resource.calendar.google.com";
                    store.RecordPending(new WatchRequest { CalendarId = calendar, ChannelId = id, Address = address, Token = "t" + i.ToString(CultureInfo.InvariantCulture) }, "writer@example.iam.gserviceaccount.com", null);
                    output.WriteLine("pending " + id);
                    store.MarkActive(id, new Channel { Id = id, ResourceId = "resource-" + calendar, Expiration = DateTimeOffset.UtcNow.AddDays(7) });
                    output.WriteLine("active " + id);
                }
            });

            output.WriteLine("done " + count.ToString(CultureInfo.InvariantCulture));
            return 0;
        }
    }
}
