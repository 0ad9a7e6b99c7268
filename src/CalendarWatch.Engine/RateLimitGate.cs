using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// One identity's shared pause after a rate-limit answer (403 usage limits, 429). Every attempt for that identity,
    /// first attempts included, waits for the gate; so items that were refused are not starved by newer items that
    /// would otherwise start at once while the old ones sit out their own, longer backoff. The pause grows
    /// exponentially while whole rounds are refused (BaseDelay·2^n up to MaxDelay, with jitter), honours Retry-After,
    /// and falls back to BaseDelay as soon as a request gets through.
    /// </summary>
    public sealed class RateLimitGate
    {
        private readonly object _gate = new object();
        private long _openAt;      // Stopwatch timestamp before which no attempt starts
        private long _raisedAt;    // when the pause was last raised
        private int _rounds;       // refused rounds in a row

        /// <summary>Waits until the gate is open (at once when it is); cancellation ends the wait at once.</summary>
        public Task WaitAsync(CancellationToken cancellationToken)
        {
            var wait = Remaining;
            return wait > TimeSpan.Zero ? Task.Delay(wait, cancellationToken) : Task.CompletedTask;
        }

        /// <summary>How long until the gate opens (zero when open).</summary>
        public TimeSpan Remaining
        {
            get
            {
                var ticks = Interlocked.Read(ref _openAt) - Stopwatch.GetTimestamp();
                return ticks > 0 ? TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency) : TimeSpan.Zero;
            }
        }

        /// <summary>A request got through: the next refusal starts again from BaseDelay.</summary>
        public void OnSuccess()
        {
            if (Volatile.Read(ref _rounds) != 0)
            {
                lock (_gate) _rounds = 0;
            }
        }

        /// <summary>
        /// An attempt that started at <paramref name="attemptStarted"/> (a Stopwatch timestamp) was refused for rate:
        /// raises the pause (once per round: refusals of attempts that started before the last raise belong to it)
        /// and returns how long this caller waits before its retry.
        /// </summary>
        public TimeSpan OnRateLimited(RetrySettings settings, TimeSpan? retryAfter, long attemptStarted)
        {
            if (settings is null) throw new ArgumentNullException(nameof(settings));
            var now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                if (attemptStarted >= _raisedAt)
                {
                    var pause = settings.Backoff(_rounds);
                    if (retryAfter is TimeSpan ra && ra > pause) pause = ra;
                    _rounds++;
                    _raisedAt = now;
                    var openAt = now + (long)(pause.TotalSeconds * Stopwatch.Frequency);
                    if (openAt > _openAt) Interlocked.Exchange(ref _openAt, openAt);
                }
                else if (retryAfter is TimeSpan ra)
                {
                    var openAt = now + (long)(ra.TotalSeconds * Stopwatch.Frequency);
                    if (openAt > _openAt) Interlocked.Exchange(ref _openAt, openAt);
                }

                // Spread the retries over a tenth of the pause so they do not arrive as one burst.
                var remaining = Math.Max(0, _openAt - now);
                var spread = (long)(remaining * 0.1 * Jitter.Next());
                return TimeSpan.FromSeconds((double)(remaining + spread) / Stopwatch.Frequency);
            }
        }
    }
}
