using System;
using System.Linq;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>Pending rows written several at once: one commit, each row's own outcome, and nothing written twice.</summary>
    public sealed class ChannelStoreBatchTests : IDisposable
    {
        private readonly TempStore _temp = new TempStore();

        public void Dispose() => _temp.Dispose();

        [Fact]
        public void EveryRowOfABatchIsCommittedAsGetReadsIt()
        {
            _temp.Clock.Now = StoreData.Start.AddTicks(4321);
            var writes = Enumerable.Range(0, 20).Select(i => new PendingWrite(StoreData.Request("b" + i), "sa@example.com", i % 2 == 0 ? "user@example.com" : null, i == 3 ? "older" : null)).ToArray();
            _temp.Store.RecordPending(writes);

            // Another connection (a second store on the file) sees every row: the batch is committed.
            using var reader = ChannelStore.Open(_temp.Store.Path, new ChannelStoreOptions { Clock = _temp.Clock });
            foreach (var write in writes)
            {
                Assert.Null(write.Error);
                var read = reader.Get(write.Request.ChannelId)!;
                Assert.Equal(ChannelState.Pending, read.State);
                Assert.Equal(read.CreatedAt, write.Record!.CreatedAt);
                Assert.Equal(read.Subject, write.Record.Subject);
                Assert.Equal(read.Replaces, write.Record.Replaces);
                Assert.Equal(read.Token, write.Record.Token);
            }

            Assert.Equal("user@example.com", reader.Get("b0")!.Subject);
            Assert.Null(reader.Get("b1")!.Subject);
            Assert.Equal("older", reader.Get("b3")!.Replaces);
        }

        [Fact]
        public void ATakenIdOrAnInvalidRequestFailsAloneAndTheOthersAreWritten()
        {
            _temp.Store.RecordPending(StoreData.Request("taken"), null, null);
            var invalid = StoreData.Request("bad");
            invalid.Address = new Uri("ftp://hooks.example.com/calendar");
            var writes = new[]
            {
                new PendingWrite(StoreData.Request("first"), null, null),
                new PendingWrite(StoreData.Request("taken", calendarId: "other@example.com"), null, null),
                new PendingWrite(invalid, null, null),
                new PendingWrite(StoreData.Request("last"), null, null),
            };

            _temp.Store.RecordPending(writes);

            Assert.Null(writes[0].Error);
            Assert.Equal("CalendarWatch.ChannelIdRecorded", Assert.IsType<CalendarWatchException>(writes[1].Error).ErrorId);
            Assert.Null(writes[1].Record);
            Assert.NotNull(writes[2].Error);
            Assert.Null(writes[2].Record);
            Assert.Null(writes[3].Error);
            Assert.Equal(ChannelState.Pending, _temp.Store.Get("first")!.State);
            Assert.Equal(ChannelState.Pending, _temp.Store.Get("last")!.State);
            Assert.Null(_temp.Store.Get("bad"));

            // The taken id's row is the earlier channel's, untouched.
            Assert.Equal("room-1@resource.calendar.google.com", _temp.Store.Get("taken")!.CalendarId);
        }

        [Fact]
        public void ActiveMarksWaitingAreWrittenWithTheNextBatch()
        {
            _temp.Store.RecordPending(StoreData.Request("earlier"), null, null);
            _temp.Store.MarkActiveLater("earlier", StoreData.Granted("earlier", StoreData.Start.AddDays(7)));
            _temp.Store.RecordPending(new[] { new PendingWrite(StoreData.Request("next"), null, null) });

            using var reader = ChannelStore.Open(_temp.Store.Path, new ChannelStoreOptions { Clock = _temp.Clock });
            Assert.Equal(ChannelState.Active, reader.Get("earlier")!.State);
            Assert.Equal(ChannelState.Pending, reader.Get("next")!.State);
        }

        [Fact]
        public void ManyThreadsWritingAtOnceLoseNothingAndNothingTwice()
        {
            Parallel.For(0, 16, thread =>
            {
                for (var i = 0; i < 25; i++)
                {
                    var id = $"t{thread}-{i}";
                    if (i % 5 == 0)
                    {
                        _temp.Store.RecordPending(Enumerable.Range(0, 3).Select(k => new PendingWrite(StoreData.Request($"{id}-{k}"), null, null)).ToArray());
                    }
                    else
                    {
                        _temp.Store.RecordPending(StoreData.Request(id), null, null);
                    }
                }
            });

            Assert.Equal(16 * (20 + 5 * 3), _temp.Store.Query(new ChannelQuery { States = new[] { ChannelState.Pending } }).Count());
        }

        [Fact]
        public void ABatchAfterDisposeIsRefused()
        {
            _temp.Store.Dispose();
            Assert.Throws<ObjectDisposedException>(() => _temp.Store.RecordPending(new[] { new PendingWrite(StoreData.Request("late"), null, null) }));
        }
    }
}
