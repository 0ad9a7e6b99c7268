using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>Many writers into one file: threads of one process, and several processes.</summary>
    public sealed class ChannelStoreConcurrencyTests
    {
        [Fact]
        public void EightThreadsOfOneProcessWriteEveryRow()
        {
            using var folder = new StoreFolder();
            using var store = ChannelStore.Open(folder.File());
            Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
            {
                for (var i = 0; i < 125; i++)
                {
                    var id = $"t{thread}-{i}";
                    store.RecordPending(StoreData.Request(id, $"room-{i % 7}@resource.calendar.google.com"), "sa@example.com", null);
                    store.MarkActive(id, StoreData.Granted(id, DateTimeOffset.UtcNow.AddDays(7)));
                    if (i % 25 == 0)
                    {
                        // Readers interleave with the writers.
                        Assert.NotEmpty(store.Query(new ChannelQuery { CalendarId = $"room-{i % 7}@resource.calendar.google.com" }).Take(5).ToList());
                    }
                }
            });

            var rows = store.Query(new ChannelQuery { AllStates = true }).ToList();
            Assert.Equal(1000, rows.Count);
            Assert.Equal(1000, rows.Select(r => r.ChannelId).Distinct().Count());
            Assert.All(rows, r => Assert.Equal(ChannelState.Active, r.State));
        }

        [Fact]
        public async Task FourProcessesWriteEveryRow()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            var children = Enumerable.Range(0, 4).Select(p => StoreWriterProcess.Start(path, "p" + p, 250, 2)).ToList();
            try
            {
                var outputs = await Task.WhenAll(children.Select(async child =>
                {
                    var stdout = child.StandardOutput.ReadToEndAsync();
                    var stderr = child.StandardError.ReadToEndAsync();
                    await child.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
                    return (Exit: child.ExitCode, Out: await stdout, Err: await stderr);
                }));
                foreach (var (exit, output, error) in outputs)
                {
                    Assert.True(exit == 0, $"exit {exit}\n{output}\n{error}");
                    Assert.Contains("done 250", output);
                }
            }
            finally
            {
                foreach (var child in children)
                {
                    if (!child.HasExited) child.Kill(entireProcessTree: true);
                    child.Dispose();
                }
            }

            using var store = ChannelStore.Open(path);
            var rows = store.Query(new ChannelQuery { AllStates = true }).ToList();
            Assert.Equal(1000, rows.Count);
            var expected = new HashSet<string>(Enumerable.Range(0, 4).SelectMany(p => Enumerable.Range(0, 250).Select(i => $"p{p}-{i}")));
            Assert.True(expected.SetEquals(rows.Select(r => r.ChannelId)));
            Assert.All(rows, r => Assert.Equal(ChannelState.Active, r.State));
            Assert.Equal("ok", StoreData.RawScalar(path, "PRAGMA integrity_check;"));
        }

        [Fact]
        public void AWriterThatCannotGetTheLockInTimeFailsWithStoreBusy()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            using var store = ChannelStore.Open(path, new ChannelStoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) });

            // Another connection holds the write lock (as an sqlite3 shell inside BEGIN IMMEDIATE would).
            SqliteNative.EnsureInitialized();
            using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False");
            holder.Open();
            using var transaction = holder.BeginTransaction(deferred: false);

            var clock = Stopwatch.StartNew();
            var error = Assert.Throws<CalendarWatchException>(() => store.RecordPending(StoreData.Request("blocked"), null, null));
            Assert.Equal("CalendarWatch.StoreBusy", error.ErrorId);
            Assert.True(error.IsTransient);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), clock.Elapsed.ToString());

            // Reads go on meanwhile, and the write succeeds once the lock is let go.
            Assert.Null(store.Get("blocked"));
            transaction.Rollback();
            store.RecordPending(StoreData.Request("blocked"), null, null);
            Assert.Equal(ChannelState.Pending, store.Get("blocked")!.State);
        }
    }
}
