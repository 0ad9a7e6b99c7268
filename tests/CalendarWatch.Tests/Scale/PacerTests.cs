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
    /// <summary>
    /// The pacer's logic on deterministic inputs: a simulated sliding-window server and a clock that moves only when
    /// told (<see cref="PacerSimulation"/>), so durations below are simulated time, never wall time; then the real
    /// client against the emulator, asserting on what the emulator saw.
    /// </summary>
    public sealed class PacerTests
    {
        [Theory]
        [InlineData(100, 1, null, 1000)]       // 100 per second, 403 userRateLimitExceeded
        [InlineData(100, 1, 1, 1000)]          // the same as 429 with Retry-After 1 s
        [InlineData(1000, 10, null, 3000)]     // the same rate over a 10 s window
        [InlineData(1000, 10, 1, 3000)]
        public void LearnsTheLimitWithoutBeingToldAndKeepsNearTheQuotaBound(int perWindow, int windowSeconds, int? retryAfterSeconds, int items)
        {
            var limit = new SimulatedLimit
            {
                PerWindow = perWindow,
                Window = TimeSpan.FromSeconds(windowSeconds),
                RetryAfter = retryAfterSeconds is int ra ? TimeSpan.FromSeconds(ra) : null,
            };

            var result = PacerSimulation.Run(limit, items, inFlight: 16, latencyMs: 50);

            var bound = TimeSpan.FromTicks(limit.Window.Ticks * items / perWindow);
            Assert.Equal(items, result.Admitted);
            Assert.True(result.Wall.Ticks <= bound.Ticks * 1.05, $"{result}; quota bound {bound.TotalSeconds} s");
            Assert.True(result.RefusedShare <= 0.10, result.ToString());
            Assert.Equal(perWindow, result.Pacer.Budget);
            var window = result.Pacer.Window!.Value;
            Assert.InRange(window.TotalSeconds, windowSeconds * 0.98, windowSeconds * 1.1);
        }

        [Fact]
        public void NothingIsPacedWithoutALimit()
        {
            var result = PacerSimulation.Run(new SimulatedLimit { Unlimited = true }, 1000, inFlight: 16, latencyMs: 50, jitterMs: 0);

            Assert.Null(result.Pacer.Budget);
            Assert.Equal(0, result.Refused);
            Assert.Equal(TimeSpan.FromMilliseconds(63 * 50), result.Wall); // 1,000 / 16 in flight = 63 rounds of 50 ms
        }

        [Fact]
        public void ALimitLiftedIsFoundByTheNextCommandsBudgetProbes()
        {
            var clock = new ManualClock();
            var pacer = new RateLimitPacer(clock);
            PacerSimulation.Run(new SimulatedLimit { PerWindow = 100, Window = TimeSpan.FromSeconds(1) }, 1000, pacer: pacer, clock: clock);
            Assert.Equal(100, pacer.Budget);
            clock.Advance(TimeSpan.FromSeconds(5)); // between two commands

            var next = PacerSimulation.Run(new SimulatedLimit { Unlimited = true }, 5000, pacer: pacer, clock: clock, latencyMs: 50, jitterMs: 0);

            // The first burst into the empty window probes beyond the budget and keeps doubling while it is admitted,
            // until the budget no longer holds anything back: as fast as 16 in flight at 50 ms allow.
            Assert.True(next.Wall.Ticks <= TimeSpan.FromMilliseconds(5000 * 50 / 16.0).Ticks * 1.05, next.ToString());
            Assert.Equal(0, next.Refused);
        }

        [Fact]
        public void StrayRefusalsAmongAnswersTeachNothing()
        {
            var result = PacerSimulation.Run(new SimulatedLimit { Unlimited = true, NoiseRate = 0.03 }, 1000, seed: 7);

            Assert.Equal(1000, result.Admitted);
            Assert.True(result.Refused > 0, "no stray refusal was simulated");
            Assert.Null(result.Pacer.Budget);
            Assert.False(result.Pacer.IsLearning);
        }

        [Fact]
        public void ATokenBucketLimitIsPacedWithoutAFailure()
        {
            // Not the shape Google documents; the pacer still settles on what gets through.
            var result = PacerSimulation.Run(new SimulatedLimit { PerWindow = 100, Window = TimeSpan.FromSeconds(1), TokenBucket = true }, 1000);

            Assert.Equal(1000, result.Admitted);
            Assert.True(result.RefusedShare <= 0.2, result.ToString());
            Assert.NotNull(result.Pacer.Budget);
        }

        [Fact]
        public void RefusalsHoldStartsForTheRetryAfterAndReturnItAsTheDelay()
        {
            var clock = new ManualClock();
            var pacer = new RateLimitPacer(clock);
            Assert.True(pacer.TryStart(out var first, out _));
            Assert.True(pacer.TryStart(out var second, out _));
            clock.Advance(TimeSpan.FromMilliseconds(50));

            var delay = pacer.Refused(first, TimeSpan.FromSeconds(30));

            Assert.Equal(TimeSpan.FromSeconds(30), delay);
            Assert.True(pacer.IsLearning);
            Assert.False(pacer.TryStart(out _, out var wait));
            Assert.Equal(TimeSpan.FromSeconds(30), wait);
            pacer.Completed(second);
            clock.Advance(TimeSpan.FromSeconds(29));
            Assert.False(pacer.TryStart(out _, out wait));
            Assert.Equal(TimeSpan.FromSeconds(1), wait);
        }

        [Fact]
        public async Task WaitersStartFirstComeFirstServedAndOneProbeAtATime()
        {
            var clock = new ManualClock();
            var pacer = new RateLimitPacer(clock);
            Assert.True(pacer.TryStart(out var refused, out _));
            Assert.True(pacer.TryStart(out var alsoRefused, out _));
            pacer.Refused(refused, TimeSpan.FromSeconds(1));
            pacer.Refused(alsoRefused, TimeSpan.FromSeconds(1));

            var waiters = Enumerable.Range(0, 3).Select(_ => pacer.WaitAsync(CancellationToken.None).AsTask()).ToList();
            Assert.All(waiters, w => Assert.False(w.IsCompleted));

            clock.Advance(TimeSpan.FromSeconds(1)); // the pause ends: the first in line goes out as the probe
            var probe = await waiters[0];
            Assert.False(waiters[1].IsCompleted);
            Assert.False(waiters[2].IsCompleted);

            pacer.Completed(probe); // the probe got through: the episode ends and the others go, in order
            var rest = await Task.WhenAll(waiters[1], waiters[2]);
            Assert.True(probe.Sequence < rest[0].Sequence && rest[0].Sequence < rest[1].Sequence);
            Assert.False(pacer.IsLearning);
        }

        [Fact]
        public async Task CancellingAWaitEndsItAtOnceAndLetsTheNextInLineGo()
        {
            var clock = new ManualClock();
            var pacer = new RateLimitPacer(clock);
            Assert.True(pacer.TryStart(out var refused, out _));
            pacer.Refused(refused, TimeSpan.FromHours(1));
            using var cancel = new CancellationTokenSource();
            var cancelled = pacer.WaitAsync(cancel.Token).AsTask();
            var next = pacer.WaitAsync(CancellationToken.None).AsTask();

            cancel.Cancel();

            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
            Assert.False(next.IsCompleted);
            clock.Advance(TimeSpan.FromHours(1));
            await next;
        }

        [Fact]
        public async Task TheClientLearnsTheEmulatorsPerUserLimitAndCreatesEveryChannelOnce()
        {
            await using var h = await ScaleHarness.StartAsync();
            h.Connection.Retry = new RetrySettings(); // defaults: nothing scaled, nothing told
            h.Emulator.SetFaults(new EmulatorFaults { UserRateLimit = 20, RateLimitWindow = TimeSpan.FromMilliseconds(500), Latency = TimeSpan.FromMilliseconds(10) });

            var outcomes = await Task.Run(() =>
            {
                var done = new List<CompletedWork<WatchRequest, Channel>>();
                using var queue = new BoundedWorkQueue<WatchRequest, Channel>(8);
                foreach (var request in h.Requests("paced", 100))
                {
                    queue.Enqueue(request, ct => h.Client.WatchAsync(request, ct), done.Add);
                }

                queue.Complete(done.Add);
                return done;
            });

            Assert.All(outcomes, o => Assert.True(o.IsSuccess, $"{o.State.ChannelId}: {o.Exception}"));
            Assert.Equal(100, h.ChannelIds("paced-").Count);
            var pacer = h.Client.PacerFor(null);
            Assert.NotNull(pacer);
            Assert.NotNull(pacer!.Budget);
            // What the pacer learned is checked on deterministic inputs above; here, under real time on a shared machine, only that it learned.
            Assert.True(pacer.Budget!.Value >= 1);
            Assert.True(h.Requests("calendar.events.watch") >= 100);
        }
    }
}
