using System;
using System.Collections.Generic;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>
    /// Active marks written later (MarkActiveLater): what another process reading the file sees before and after each
    /// moment that writes them — the next Pending row, a read, Flush, Dispose, the timer — and what happens to a mark
    /// the record no longer wants.
    /// </summary>
    public sealed class ChannelStoreLaterMarkTests : IDisposable
    {
        private readonly StoreFolder _folder = new StoreFolder();
        private readonly Scale.ManualClock _timers = new Scale.ManualClock();
        private readonly ChannelStore _writer;
        private readonly ChannelStore _reader;

        public ChannelStoreLaterMarkTests()
        {
            _writer = ChannelStore.Open(_folder.File(), new ChannelStoreOptions { Clock = _timers });
            _reader = ChannelStore.Open(_folder.File());
        }

        public void Dispose()
        {
            _writer.Dispose();
            _reader.Dispose();
            _folder.Dispose();
        }

        [Fact]
        public void TheMarkGoesInWithTheNextPendingRow()
        {
            _writer.RecordPending(StoreData.Request("a"), null, null);
            _writer.MarkActiveLater("a", StoreData.Granted("a", DateTimeOffset.UtcNow.AddDays(7), "resource-a"));
            Assert.Equal(ChannelState.Pending, _reader.Get("a")!.State);

            _writer.RecordPending(StoreData.Request("b"), null, null);

            var a = _reader.Get("a")!;
            Assert.Equal(ChannelState.Active, a.State);
            Assert.Equal("resource-a", a.ResourceId);
            Assert.Equal(ChannelState.Pending, _reader.Get("b")!.State);
        }

        [Fact]
        public void FlushAReadOnTheSameStoreAndDisposeEachWriteIt()
        {
            foreach (var id in new[] { "f", "g", "d" }) _writer.RecordPending(StoreData.Request(id), null, null);

            _writer.MarkActiveLater("f", StoreData.Granted("f", DateTimeOffset.UtcNow.AddDays(7)));
            _writer.Flush();
            Assert.Equal(ChannelState.Active, _reader.Get("f")!.State);

            _writer.MarkActiveLater("g", StoreData.Granted("g", DateTimeOffset.UtcNow.AddDays(7)));
            Assert.Equal(ChannelState.Active, _writer.Get("g")!.State);

            _writer.MarkActiveLater("d", StoreData.Granted("d", DateTimeOffset.UtcNow.AddDays(7)));
            Assert.Equal(ChannelState.Pending, _reader.Get("d")!.State);
            _writer.Dispose();
            Assert.Equal(ChannelState.Active, _reader.Get("d")!.State);
        }

        [Fact]
        public void TheTimerWritesItAfterTheDelayAtTheLatest()
        {
            _writer.RecordPending(StoreData.Request("t"), null, null);
            _writer.MarkActiveLater("t", StoreData.Granted("t", DateTimeOffset.UtcNow.AddDays(7)));

            _timers.Advance(ChannelStore.LaterDelay - TimeSpan.FromMilliseconds(1));
            Assert.Equal(ChannelState.Pending, _reader.Get("t")!.State);
            _timers.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(ChannelState.Active, _reader.Get("t")!.State);
        }

        [Fact]
        public void AMarkForAChannelStoppedMeanwhileIsDroppedAndOneForAnUnknownChannelIsReported()
        {
            _writer.RecordPending(StoreData.Request("s"), null, null);
            var failures = new List<CalendarWatchException>();
            _writer.MarkActiveLater("s", StoreData.Granted("s", DateTimeOffset.UtcNow.AddDays(7)), failures.Add);
            _writer.MarkActiveLater("nobody", StoreData.Granted("nobody", DateTimeOffset.UtcNow.AddDays(7)), failures.Add);
            _reader.MarkStopped("s");

            _writer.Flush();

            Assert.Equal(ChannelState.Stopped, _reader.Get("s")!.State);
            var failure = Assert.Single(failures);
            Assert.Contains("nobody", failure.Message);
        }
    }
}
