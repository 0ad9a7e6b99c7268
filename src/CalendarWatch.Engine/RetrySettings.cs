using System;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// How hard one connection tries before an item fails (Connect-CalendarWatch -MaxRetry / -RetryTimeLimit).
    /// Immutable: values are set once, with an object initializer; a connection's settings change by replacing the
    /// whole object, which the next call reads.
    /// </summary>
    public sealed class RetrySettings
    {
        public const int DefaultMaxRetry = 5;

        /// <summary>Most Calendar rate-limit windows are per minute; two minutes lets one window pass and then some.</summary>
        public static readonly TimeSpan DefaultRetryTimeLimit = TimeSpan.FromMinutes(2);

        public static readonly TimeSpan DefaultBaseDelay = TimeSpan.FromSeconds(1);

        public static readonly TimeSpan DefaultMaxDelay = TimeSpan.FromSeconds(32);

        private int _maxRetry = DefaultMaxRetry;
        private TimeSpan _retryTimeLimit = DefaultRetryTimeLimit;
        private TimeSpan _baseDelay = DefaultBaseDelay;
        private TimeSpan _maxDelay = DefaultMaxDelay;

        /// <summary>
        /// Retries after the first attempt for failures (5xx, broken connections, timeouts); 0 = never retry anything.
        /// Rate-limit answers (403 userRateLimitExceeded/rateLimitExceeded/quotaExceeded, 429) do not use up this
        /// count: waiting is their only cure, so they are retried while <see cref="RetryTimeLimit"/> allows (at most
        /// <see cref="MaxRateLimitRetries"/> times). At most 100.
        /// </summary>
        public int MaxRetry
        {
            get => _maxRetry;
            init
            {
                if (value < 0 || value > 100) throw new ArgumentOutOfRangeException(nameof(value), value, "MaxRetry must be between 0 and 100.");
                _maxRetry = value;
            }
        }

        /// <summary>The most retries of rate-limit answers in one call (a safety cap; RetryTimeLimit is the real bound).</summary>
        public const int MaxRateLimitRetries = 100;

        /// <summary>
        /// The longest one call may spend, counted from its first attempt: no retry starts whose delay would end past it.
        /// </summary>
        public TimeSpan RetryTimeLimit
        {
            get => _retryTimeLimit;
            init
            {
                if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "RetryTimeLimit must not be negative.");
                _retryTimeLimit = value;
            }
        }

        /// <summary>The first backoff delay; each further retry doubles it (with jitter) up to <see cref="MaxDelay"/>.</summary>
        public TimeSpan BaseDelay
        {
            get => _baseDelay;
            init
            {
                if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "BaseDelay must not be negative.");
                _baseDelay = value;
            }
        }

        /// <summary>The longest backoff delay (Retry-After from the server may ask for more, within the time limit).</summary>
        public TimeSpan MaxDelay
        {
            get => _maxDelay;
            init
            {
                if (value < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(value), value, "MaxDelay must not be negative.");
                _maxDelay = value;
            }
        }

        /// <summary>The backoff before jitter after <paramref name="failures"/> failures in a row: BaseDelay·2^n, at most MaxDelay.</summary>
        internal TimeSpan Backoff(int failures) =>
            TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks, BaseDelay.Ticks * Math.Pow(2, Math.Min(failures, 30))));

        public override string ToString() => $"MaxRetry {MaxRetry}, RetryTimeLimit {RetryTimeLimit}, BaseDelay {BaseDelay}, MaxDelay {MaxDelay}";
    }
}
