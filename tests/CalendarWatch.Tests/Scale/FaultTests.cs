using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Emulator;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>Many watches through the queue and the retry policy against injected faults, as the cmdlets run them.</summary>
    public sealed class FaultTests
    {
        [Fact]
        public async Task TenPercentTransientFaultsStillGiveExactlyOneChannelPerInput()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Error429Rate = 0.033, Error503Rate = 0.033, ConnectionResetRate = 0.034, RetryAfterSeconds = 0, Seed = 5 });
            var outcomes = await Task.Run(() => RunQueue(h, h.Requests("fault", 1000), throttleLimit: 16));

            Assert.Equal(Enumerable.Range(0, 1000).Select(i => (long)i), outcomes.Select(o => o.Sequence)); // all, in input order
            Assert.All(outcomes, o => Assert.True(o.IsSuccess, $"{o.State.ChannelId}: {o.Exception}"));
            Assert.All(outcomes, o => Assert.Equal(o.State.ChannelId, o.Result.Id));
            var channels = h.Emulator.Channels.Where(c => c.Id.StartsWith("fault-", StringComparison.Ordinal)).ToList();
            Assert.Equal(1000, channels.Count);
            Assert.Equal(1000, channels.Select(c => c.Id).Distinct(StringComparer.Ordinal).Count());
            Assert.Equal(outcomes.Select(o => o.State.ChannelId).OrderBy(i => i, StringComparer.Ordinal), channels.Select(c => c.Id).OrderBy(i => i, StringComparer.Ordinal));
            Assert.True(h.Requests("calendar.events.watch") > 1000, "no fault was injected");
        }

        [Fact]
        public async Task AResponseLostAfterCreationEndsAsChannelMayExistAndNothingElse()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { ResponseLostRate = 0.2, Seed = 11 });
            var outcomes = await Task.Run(() => RunQueue(h, h.Requests("lost", 60), throttleLimit: 8));

            var mayExist = outcomes.Where(o => !o.IsSuccess).ToList();
            Assert.NotEmpty(mayExist);
            Assert.All(mayExist, o =>
            {
                var error = Assert.IsAssignableFrom<CalendarWatchException>(o.Exception);
                Assert.Equal("CalendarWatch.ChannelMayExist", error.ErrorId);
                Assert.Equal(o.State.ChannelId, error.ChannelId);
                Assert.Equal(ScaleHarness.Calendar, error.CalendarId);
                Assert.Contains(o.State.ChannelId, error.Message);
            });
            Assert.All(outcomes.Where(o => o.IsSuccess), o => Assert.Equal(o.State.ChannelId, o.Result.Id));

            // Every input was created exactly once; the ones reported as "may exist" are exactly the orphans.
            var held = h.ChannelIds("lost-");
            Assert.Equal(60, held.Count);
            Assert.Equal(60, outcomes.Count);
            var succeeded = new HashSet<string>(outcomes.Where(o => o.IsSuccess).Select(o => o.State.ChannelId), StringComparer.Ordinal);
            Assert.Equal(held.Except(succeeded).OrderBy(i => i, StringComparer.Ordinal), mayExist.Select(o => o.State.ChannelId).OrderBy(i => i, StringComparer.Ordinal));
        }

        [Fact]
        public async Task CancellingAfter200Of1000ReturnsPromptlyAndAccountsForEveryChannel()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Emulator.SetFaults(new EmulatorFaults { Latency = TimeSpan.FromMilliseconds(20) });
            var outcomes = new List<CompletedWork<WatchRequest, Channel>>();

            // The pipeline thread's part runs on a thread of its own, so that a Complete that does not return after the
            // cancel fails at the (generous) guard instead of hanging the run.
            await Task.Factory.StartNew(() =>
            {
                using var queue = new BoundedWorkQueue<WatchRequest, Channel>(16);
                using var stopNow = new ManualResetEventSlim();
                var stopper = new Thread(() =>
                {
                    stopNow.Wait();
                    queue.Cancel(); // what StopProcessing does, from its own thread
                }) { IsBackground = true };
                stopper.Start();
                void OnReady(CompletedWork<WatchRequest, Channel> done)
                {
                    outcomes.Add(done);
                    if (outcomes.Count == 200) stopNow.Set();
                }

                foreach (var request in h.Requests("stop", 1000))
                {
                    queue.Enqueue(request, ct => h.Client.WatchAsync(request, ct), OnReady);
                    if (queue.IsCancellationRequested) break; // PowerShell calls no further ProcessRecord after a stop
                }

                queue.Complete(OnReady);
                stopNow.Set();
                stopper.Join();
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).WaitAsync(ScaleHarness.WaitTimeout);

            Assert.True(outcomes.Count(o => o.IsSuccess) >= 200);
            Assert.True(outcomes.Count < 1000, "the stop did not stop the input");
            Assert.Equal(Enumerable.Range(0, outcomes.Count).Select(i => (long)i), outcomes.Select(o => o.Sequence));
            Assert.All(outcomes, o => Assert.True(o.IsSuccess || o.IsCancelled, $"{o.State.ChannelId}: {o.Exception}"));

            var output = new HashSet<string>(outcomes.Where(o => o.IsSuccess).Select(o => o.Result.Id), StringComparer.Ordinal);
            var inFlight = new HashSet<string>(outcomes.Where(o => o.IsCancelled && o.WasStarted).Select(o => o.State.ChannelId), StringComparer.Ordinal);
            var neverSent = new HashSet<string>(outcomes.Where(o => o.IsCancelled && !o.WasStarted).Select(o => o.State.ChannelId), StringComparer.Ordinal);
            Assert.NotEmpty(inFlight);
            var held = h.ChannelIds("stop-");
            Assert.All(held, id => Assert.True(output.Contains(id) || inFlight.Contains(id), $"channel {id} exists but is neither output nor reported in flight"));
            Assert.All(output, id => Assert.Contains(id, held));
            Assert.Empty(held.Intersect(neverSent));
        }

        private static List<CompletedWork<WatchRequest, Channel>> RunQueue(ScaleHarness h, IEnumerable<WatchRequest> requests, int throttleLimit)
        {
            var outcomes = new List<CompletedWork<WatchRequest, Channel>>();
            using var queue = new BoundedWorkQueue<WatchRequest, Channel>(throttleLimit);
            foreach (var request in requests)
            {
                // Retry notices reach the caller thread through Post, as -Verbose lines would.
                queue.Enqueue(request, ct => h.Client.WatchAsync(request, n => queue.Post(() => Assert.False(string.IsNullOrEmpty(n.Message))), ct), outcomes.Add);
            }

            queue.Complete(outcomes.Add);
            return outcomes;
        }
    }
}
