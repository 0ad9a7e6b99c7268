using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>
    /// The watch cmdlets' record-ahead against the emulator: every row committed before its request is sent, the rows
    /// of waiting requests written together, and a stop leaving no never-sent row Pending. What is asserted is what
    /// another reader of the record file and the emulator's channel table see.
    /// </summary>
    public sealed class RecordAheadTests : IAsyncLifetime
    {
        private const string Calendar = "ahead@example.com";
        private static readonly Uri Receiver = new Uri("https://hooks.example.com/calendar");

        private readonly StoreFolder _folder = new StoreFolder();
        private CalendarEmulator _emulator = null!;
        private CalendarConnection _connection = null!;
        private CalendarApiClient _client = null!;
        private ChannelStore _store = null!;
        private ChannelStore _reader = null!;

        public async Task InitializeAsync()
        {
            _emulator = await CalendarEmulator.StartAsync(new EmulatorOptions { NoAuth = true });
            _emulator.CreateCalendar(Calendar, "user@example.com");
            _connection = CalendarConnection.ForEmulator(_emulator.BaseUri);
            _client = new CalendarApiClient(_connection);
            _store = ChannelStore.Open(_folder.File());
            _reader = ChannelStore.Open(_folder.File());
        }

        public async Task DisposeAsync()
        {
            _reader.Dispose();
            _store.Dispose();
            _connection.Dispose();
            await _emulator.DisposeAsync();
            _folder.Dispose();
        }

        private static WatchRequest Request(string id) => new WatchRequest { CalendarId = Calendar, ChannelId = id, Address = Receiver };

        private static TaskCompletionSource<bool> Signal() => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>
        /// Sends for real once <paramref name="gate"/> opens; first checks, as another reader, that the row is committed,
        /// then signals <paramref name="reached"/>.
        /// </summary>
        private Func<Task<Channel>> Send(WatchRequest request, Task gate, Action<int>? seen = null, TaskCompletionSource<bool>? reached = null) => async () =>
        {
            Assert.Equal(ChannelState.Pending, _reader.Get(request.ChannelId)?.State);
            seen?.Invoke(_reader.Query(new ChannelQuery { States = new[] { ChannelState.Pending } }).Count());
            reached?.SetResult(true);
            await gate;
            return await _client.WatchAsync(request);
        };

        [Fact]
        public async Task RowsAreCommittedBeforeSendingAndTheWaitingOnesShareOneCommit()
        {
            var ahead = new RecordAhead(_store, 2, _ => { });
            var release = Signal();
            var reached = new[] { Signal(), Signal() };
            var blockers = Enumerable.Range(0, 2).Select(i => Request("block-" + i))
                .Select((r, i) => ahead.SendAsync(_client, r, Send(r, release.Task, reached: reached[i]), CancellationToken.None)).ToArray();
            await Task.WhenAll(reached.Select(r => r.Task));

            // 20 requests wait for the two busy slots; nothing of theirs is written yet.
            var pendingSeen = new int[20];
            var waiting = Enumerable.Range(0, 20).Select(i =>
            {
                var request = Request("wait-" + i);
                return ahead.SendAsync(_client, request, Send(request, Task.CompletedTask, n => pendingSeen[i] = n), CancellationToken.None);
            }).ToArray();
            Assert.Equal(2, _reader.Query(new ChannelQuery { States = new[] { ChannelState.Pending } }).Count());

            release.SetResult(true);
            await Task.WhenAll(blockers.Concat(waiting));

            // When the first waiting request was sent, the rows of all 20 were already there: written in one commit.
            Assert.Equal(22, pendingSeen[0]);
            Assert.Equal(22, _emulator.Channels.Count(c => c.CalendarId == Calendar));
        }

        [Fact]
        public async Task AStopSendsNothingMoreAndMarksTheWrittenRowsNeverSent()
        {
            var ahead = new RecordAhead(_store, 2, _ => { });
            using var stop = new CancellationTokenSource();
            var release = Signal();
            var first = Request("block-0");
            var firstTask = ahead.SendAsync(_client, first, Send(first, release.Task), stop.Token);
            var second = Request("block-1");
            var holdSecond = Signal();
            var secondReached = Signal();
            var secondTask = ahead.SendAsync(_client, second, Send(second, holdSecond.Task, reached: secondReached), stop.Token);
            await secondReached.Task;

            // Ten wait; the first slot frees, and the first of them writes all ten rows and is sent (it stays open).
            var keepOpen = Signal();
            var firstWrittenReached = Signal();
            var written = Enumerable.Range(0, 10).Select(i => Request("written-" + i)).ToArray();
            var writtenTasks = written.Select((r, i) => ahead.SendAsync(_client, r, i == 0 ? Send(r, keepOpen.Task, reached: firstWrittenReached) : Send(r, Task.CompletedTask), stop.Token)).ToArray();
            release.SetResult(true);
            await firstTask;
            await firstWrittenReached.Task;
            Assert.Equal(ChannelState.Pending, _reader.Get("written-9")?.State);

            // Three more wait behind them, not yet written. Then the stop.
            var unwritten = Enumerable.Range(0, 3).Select(i => Request("unwritten-" + i)).ToArray();
            var unwrittenTasks = unwritten.Select(r => ahead.SendAsync(_client, r, Send(r, Task.CompletedTask), stop.Token)).ToArray();
            stop.Cancel();
            holdSecond.SetResult(true);
            keepOpen.SetResult(true);

            foreach (var task in writtenTasks.Skip(1).Concat(unwrittenTasks))
            {
                await Assert.ThrowsAsync<WorkNotStartedException>(() => task);
            }

            await secondTask;
            await writtenTasks[0];
            foreach (var request in written.Skip(1))
            {
                var row = _reader.Get(request.ChannelId)!;
                Assert.Equal(ChannelState.Failed, row.State);
                Assert.Equal(StopReport.NeverSent, row.LastError);
            }

            Assert.All(unwritten, r => Assert.Null(_reader.Get(r.ChannelId)));
            var made = _emulator.Channels.Where(c => c.CalendarId == Calendar).Select(c => c.Id).OrderBy(id => id, StringComparer.Ordinal).ToArray();
            Assert.Equal(new[] { "block-0", "block-1", "written-0" }, made);
        }
    }
}
