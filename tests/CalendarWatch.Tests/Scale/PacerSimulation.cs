using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;

namespace CalendarWatch.Tests.Scale
{
    /// <summary>How the simulated server limits one user.</summary>
    internal sealed class SimulatedLimit
    {
        /// <summary>Requests admitted per <see cref="Window"/> (sliding, as the emulator and Google count).</summary>
        public int PerWindow { get; set; } = 100;

        public TimeSpan Window { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Refusals carry this Retry-After (a 429); null = a 403 userRateLimitExceeded without one.</summary>
        public TimeSpan? RetryAfter { get; set; }

        /// <summary>A token bucket instead of a sliding window: capacity PerWindow, refilled PerWindow per Window.</summary>
        public bool TokenBucket { get; set; }

        /// <summary>Share of admitted requests refused anyway (stray 429s with Retry-After 0).</summary>
        public double NoiseRate { get; set; }

        /// <summary>No limit at all.</summary>
        public bool Unlimited { get; set; }
    }

    internal sealed class SimulationResult
    {
        public TimeSpan Wall { get; set; }

        public int Admitted { get; set; }

        public int Refused { get; set; }

        public int Sent => Admitted + Refused;

        public double RefusedShare => Sent == 0 ? 0 : (double)Refused / Sent;

        public RateLimitPacer Pacer { get; set; } = null!;

        public override string ToString() => $"wall {Wall.TotalSeconds:0.000} s, admitted {Admitted}, refused {Refused} ({RefusedShare:P1}), pacer {Pacer}";
    }

    /// <summary>
    /// A discrete-event run of <c>items</c> requests through one <see cref="RateLimitPacer"/> with <c>inFlight</c>
    /// workers against a simulated per-user limit: each attempt reaches the server after the latency (plus a
    /// deterministic jitter), is admitted or refused there, and a refused item is retried after the delay the pacer
    /// returns, as the retry policy does. No real time passes.
    /// </summary>
    internal static class PacerSimulation
    {
        public static SimulationResult Run(SimulatedLimit limit, int items, int inFlight = 16, double latencyMs = 50, double jitterMs = 4, int seed = 1, RateLimitPacer? pacer = null, ManualClock? clock = null, Action? trace = null)
        {
            clock ??= new ManualClock();
            pacer ??= new RateLimitPacer(clock);
            var random = new Random(seed);
            var server = new Server(limit, clock.Now);
            var result = new SimulationResult { Pacer = pacer };
            var start = clock.Now;
            var nextItem = 0;
            var done = 0;

            // Workers waiting to start an attempt, in the order they asked (first come, first served), with when they may ask.
            var waiting = new List<(int Worker, TimeSpan ReadyAt)>();
            var inFlightAttempts = new List<(TimeSpan At, int Worker, PacerSlot Slot, bool Admitted)>();
            for (var w = 0; w < Math.Min(inFlight, items); w++)
            {
                waiting.Add((w, clock.Now));
                nextItem++;
            }

            var guard = 0;
            while (done < items)
            {
                if (++guard > 50_000_000) throw new InvalidOperationException("the simulation does not end: " + result);
                var now = clock.Now;

                // Answers due now.
                for (var i = 0; i < inFlightAttempts.Count; i++)
                {
                    var attempt = inFlightAttempts[i];
                    if (attempt.At > now) continue;
                    inFlightAttempts.RemoveAt(i--);
                    if (attempt.Admitted)
                    {
                        result.Admitted++;
                        pacer.Completed(attempt.Slot);
                        done++;
                        if (nextItem < items)
                        {
                            nextItem++;
                            waiting.Add((attempt.Worker, now));
                        }
                    }
                    else
                    {
                        result.Refused++;
                        var delay = pacer.Refused(attempt.Slot, limit.RetryAfter);
                        waiting.Add((attempt.Worker, now + delay));
                    }
                }

                // Starts, in order, while the pacer allows.
                var pacerWait = TimeSpan.MaxValue;
                for (var i = 0; i < waiting.Count; i++)
                {
                    if (waiting[i].ReadyAt > now) continue;
                    if (!pacer.TryStart(out var slot, out var wait))
                    {
                        if (wait != Timeout.InfiniteTimeSpan) pacerWait = wait;
                        break;
                    }

                    var worker = waiting[i].Worker;
                    waiting.RemoveAt(i--);
                    var arrives = now + TimeSpan.FromMilliseconds(latencyMs + (jitterMs * random.NextDouble()));
                    var admitted = server.Admit(arrives) && !(limit.NoiseRate > 0 && random.NextDouble() < limit.NoiseRate);
                    inFlightAttempts.Add((arrives, worker, slot, admitted));
                }

                trace?.Invoke();
                if (done >= items) break;

                // The next moment anything can happen.
                var next = TimeSpan.MaxValue;
                foreach (var attempt in inFlightAttempts) if (attempt.At < next) next = attempt.At;
                foreach (var w in waiting) if (w.ReadyAt > now && w.ReadyAt < next) next = w.ReadyAt;
                if (pacerWait != TimeSpan.MaxValue && now + pacerWait < next) next = now + pacerWait;
                if (next == TimeSpan.MaxValue) throw new InvalidOperationException("nothing left to happen: " + result);
                clock.Now = next > now ? next : now + TimeSpan.FromTicks(1);
            }

            result.Wall = clock.Now - start;
            return result;
        }

        /// <summary>The server's limiter. Requests are checked on arrival (in the order they arrive, which the sorted
        /// arrival times of the simulation keep closely enough).</summary>
        private sealed class Server
        {
            private readonly SimulatedLimit _limit;
            private readonly Queue<TimeSpan> _admitted = new Queue<TimeSpan>();
            private double _tokens;
            private TimeSpan _refilled;

            public Server(SimulatedLimit limit, TimeSpan now)
            {
                _limit = limit;
                _tokens = limit.PerWindow;
                _refilled = now;
            }

            public bool Admit(TimeSpan at)
            {
                if (_limit.Unlimited) return true;
                if (_limit.TokenBucket)
                {
                    if (at > _refilled)
                    {
                        _tokens = Math.Min(_limit.PerWindow, _tokens + ((at - _refilled).TotalSeconds * _limit.PerWindow / _limit.Window.TotalSeconds));
                        _refilled = at;
                    }

                    if (_tokens < 1) return false;
                    _tokens--;
                    return true;
                }

                while (_admitted.Count > 0 && _admitted.Peek() <= at - _limit.Window) _admitted.Dequeue();
                if (_admitted.Count >= _limit.PerWindow) return false;
                _admitted.Enqueue(at);
                return true;
            }
        }
    }
}
