using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using Xunit;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>The queue on its own (generic work, no HTTP): limits, order, threads, failures, cancellation.</summary>
    public sealed class BoundedWorkQueueTests
    {
        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public void HandsOutEveryItemOnTheCallerThreadWithinTheLimit(bool ordered)
        {
            const int limit = 4;
            var caller = Environment.CurrentManagedThreadId;
            var running = 0;
            var maxRunning = 0;
            var seen = new List<long>();
            var random = new Random(7);
            using var queue = new BoundedWorkQueue<int, int>(limit, ordered);
            void OnReady(CompletedWork<int, int> done)
            {
                Assert.Equal(caller, Environment.CurrentManagedThreadId);
                Assert.True(done.IsSuccess, done.Exception?.ToString());
                Assert.Equal(done.State * 10, done.Result);
                seen.Add(done.Sequence);
            }

            for (var i = 0; i < 300; i++)
            {
                var item = i;
                var spin = random.Next(0, 3);
                queue.Enqueue(item, async ct =>
                {
                    var now = Interlocked.Increment(ref running);
                    InterlockedMax(ref maxRunning, now);
                    await Task.Yield();
                    for (var s = 0; s < spin; s++) await Task.Yield();
                    Interlocked.Decrement(ref running);
                    return item * 10;
                }, OnReady);
                Assert.True(queue.InFlight <= limit);
            }

            queue.Complete(OnReady);
            Assert.True(maxRunning <= limit, $"max in flight {maxRunning} > {limit}");
            Assert.Equal(300, seen.Count);
            Assert.Equal(Enumerable.Range(0, 300).Select(i => (long)i), ordered ? seen : seen.OrderBy(s => s));
            Assert.Equal(300, queue.Completed);
            Assert.Equal(300, queue.Succeeded);
            Assert.Equal(0, queue.InFlight);
        }

        [Fact]
        public void OrderedQueueHoldsLaterResultsUntilTheSlowFirstOneArrives()
        {
            var first = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            var handed = new List<long>();
            using var queue = new BoundedWorkQueue<int, int>(8, ordered: true);
            queue.Enqueue(0, _ => first.Task, d => handed.Add(d.Sequence));
            for (var i = 1; i < 6; i++)
            {
                var item = i;
                queue.Enqueue(item, _ => Task.FromResult(item), d => handed.Add(d.Sequence));
            }

            Assert.Empty(handed); // 1..5 are done but wait for 0
            first.SetResult(0);
            queue.Complete(d => handed.Add(d.Sequence));
            Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5 }, handed);
        }

        [Fact]
        public void OneFailingItemNeverStopsTheOthers()
        {
            var outcomes = new List<CompletedWork<string, int>>();
            using var queue = new BoundedWorkQueue<string, int>(3);
            queue.Enqueue("a", _ => Task.FromResult(1), outcomes.Add);
            queue.Enqueue("sync-throw", _ => throw new InvalidOperationException("bad item"), outcomes.Add);
            queue.Enqueue("async-fault", async _ => { await Task.Yield(); throw new CalendarWatchException("CalendarWatch.X", FailureKind.InvalidArgument, "bad"); }, outcomes.Add);
            queue.Enqueue("d", _ => Task.FromResult(4), outcomes.Add);
            queue.Complete(outcomes.Add);

            Assert.Equal(new[] { "a", "sync-throw", "async-fault", "d" }, outcomes.Select(o => o.State));
            Assert.IsType<InvalidOperationException>(outcomes[1].Exception);
            Assert.IsType<CalendarWatchException>(outcomes[2].Exception);
            Assert.False(outcomes[1].IsCancelled);
            Assert.True(outcomes[3].IsSuccess);
            Assert.Equal(2, queue.Failed);
        }

        [Fact]
        public void WorkThatEndsNotStartedIsHandedOutAsNeverStartedNotAsInFlight()
        {
            var outcomes = new List<CompletedWork<string, int>>();
            using var stopped = new CancellationTokenSource();
            stopped.Cancel();

            // Enqueued before the cancel, so started; one gives up before doing anything, the other in flight.
            var gate = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var open = new BoundedWorkQueue<string, int>(4);
            open.Enqueue("waited", async ct => { await gate.Task; throw new WorkNotStartedException(stopped.Token); }, outcomes.Add);
            open.Enqueue("in-flight", async ct => { await gate.Task; throw new OperationCanceledException(stopped.Token); }, outcomes.Add);
            open.Cancel();
            gate.SetResult(true);
            open.Complete(outcomes.Add);

            var waited = outcomes.Single(o => o.State == "waited");
            Assert.True(waited.IsCancelled);
            Assert.False(waited.WasStarted);
            Assert.IsType<WorkNotStartedException>(waited.Exception);
            var inFlight = outcomes.Single(o => o.State == "in-flight");
            Assert.True(inFlight.IsCancelled);
            Assert.True(inFlight.WasStarted);
        }

        [Fact]
        public void PostedActionsRunOnTheCallerThreadBeforeLaterResults()
        {
            var caller = Environment.CurrentManagedThreadId;
            var log = new List<string>();
            using var queue = new BoundedWorkQueue<int, int>(2);
            queue.Enqueue(1, async _ =>
            {
                await Task.Yield();
                queue.Post(() => { Assert.Equal(caller, Environment.CurrentManagedThreadId); log.Add("retrying 1"); });
                return 1;
            }, d => log.Add("result " + d.State));
            queue.Complete(d => log.Add("result " + d.State));
            Assert.Equal(new[] { "retrying 1", "result 1" }, log);
        }

        [Theory]
        [InlineData(true)]
        [InlineData(false)]
        public async Task CancelReturnsPromptlyAndAccountsForEveryItem(bool ordered)
        {
            const int total = 1000;
            var outcomes = new List<CompletedWork<int, int>>();
            CompletedWork<int, int>? late = null;

            // The caller thread's part runs on its own thread, so that a Complete that waited for the items which
            // ignore the cancel fails the test at the (generous) guard instead of hanging it.
            var caller = Task.Factory.StartNew(() =>
            {
                // No grace: the items that ignore the token never finish, so any grace would only be waited out.
                using var queue = new BoundedWorkQueue<int, int>(16, ordered) { CancelGrace = TimeSpan.Zero };
                using var stopped = new ManualResetEventSlim();
                var stopper = new Thread(() =>
                {
                    stopped.Wait();
                    queue.Cancel(); // as StopProcessing does, from another thread
                }) { IsBackground = true };
                stopper.Start();

                for (var i = 0; i < total; i++)
                {
                    var item = i;
                    queue.Enqueue(item, async ct =>
                    {
                        await Task.Yield();
                        if (item < 200) return item;
                        if (item % 2 == 0)
                        {
                            await Task.Delay(Timeout.Infinite, ct); // honours the token
                        }
                        else
                        {
                            await new TaskCompletionSource<int>().Task; // ignores it: must still be reported
                        }

                        return item;
                    }, outcomes.Add);
                    if (item == 215)
                    {
                        stopped.Set();
                        break;
                    }
                }

                queue.Complete(outcomes.Add);
                stopper.Join();

                // After the cancel nothing new starts; the item is handed out as never started.
                queue.Enqueue(999, _ => throw new InvalidOperationException("must not run"), d => late = d);
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await caller.WaitAsync(ScaleHarness.WaitTimeout);

            Assert.Equal(216, outcomes.Count);
            Assert.Equal(Enumerable.Range(0, 216), outcomes.Select(o => o.State).OrderBy(s => s));
            Assert.All(outcomes.Where(o => o.State < 200), o => Assert.True(o.IsSuccess));
            Assert.All(outcomes.Where(o => o.State >= 200), o => Assert.True(o.IsCancelled && o.WasStarted));
            Assert.NotNull(late);
            Assert.True(late!.IsCancelled);
            Assert.False(late.WasStarted);
        }

        [Fact]
        public void PendingResultsAreBoundedWhileTheFirstItemIsSlow()
        {
            var first = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var queue = new BoundedWorkQueue<int, int>(4) { MaxPending = 10 };
            var handed = 0;
            queue.Enqueue(0, _ => first.Task, _ => handed++);
            for (var i = 1; i < 10; i++)
            {
                var item = i;
                queue.Enqueue(item, _ => Task.FromResult(item), _ => handed++);
            }

            // Ten started, nothing handed out (item 0 is slow): the eleventh Enqueue has to wait. An action posted now
            // runs on this thread inside that call; it has another thread release item 0 while the call waits.
            Assert.Equal(10, queue.Started);
            Assert.Equal(0, handed);
            var handedWhenTheEleventhStarted = -1;
            queue.Post(() => Task.Run(() => first.SetResult(0)));
            queue.Enqueue(10, _ =>
            {
                handedWhenTheEleventhStarted = handed;
                return Task.FromResult(10);
            }, _ => handed++);
            queue.Complete(_ => handed++);

            Assert.Equal(10, handedWhenTheEleventhStarted); // it started only once the ten before it were handed out
            Assert.Equal(11, handed);
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
            {
            }
        }
    }
}
