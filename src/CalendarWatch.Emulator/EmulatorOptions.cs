using System;
using System.Globalization;

namespace CalendarWatch.Emulator
{
    /// <summary>Start-time settings of a <see cref="CalendarEmulator"/>.</summary>
    public sealed class EmulatorOptions
    {
        /// <summary>TCP port on 127.0.0.1; 0 picks a free port.</summary>
        public int Port { get; set; }

        /// <summary>Accept any bearer token (or none); the caller is always <see cref="NoAuthPrincipal"/>.</summary>
        public bool NoAuth { get; set; }

        /// <summary>Accept http:// channel addresses (local receivers have no certificates).</summary>
        public bool AllowHttp { get; set; }

        /// <summary>Longer requested lifetimes are silently shortened to this.</summary>
        public TimeSpan MaxChannelLifetime { get; set; } = TimeSpan.FromDays(30);

        /// <summary>
        /// Added latency per API request at start; copied into <see cref="EmulatorFaults.Latency"/> when that is zero.
        /// 0 to <see cref="EmulatorFaults.MaxLatency"/>, else <see cref="ArgumentOutOfRangeException"/>.
        /// </summary>
        public TimeSpan Latency
        {
            get => _latency;
            set => _latency = EmulatorFaults.CheckLatency(value, nameof(Latency));
        }

        private TimeSpan _latency = TimeSpan.Zero;

        /// <summary>Fault and rate-limit knobs in force at start (also settable at run time).</summary>
        public EmulatorFaults Faults { get; set; } = new EmulatorFaults();

        /// <summary>The project number used in messages such as "Channel 'X' not found for project 'P'".</summary>
        public string ProjectNumber { get; set; } = "123456789";

        /// <summary>Attempts per notification (first try included) while the receiver answers 500/502/503/504.</summary>
        public int DeliveryMaxAttempts { get; set; } = 5;

        /// <summary>Delay before the first retry; doubles on each further retry.</summary>
        public TimeSpan DeliveryRetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>Timeout of one notification POST.</summary>
        public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>
        /// The largest request body accepted under /calendar/v3/ and /emulator/v1/ (default 1 MiB); a larger one is answered 413
        /// as soon as its Content-Length or its streamed bytes pass the limit, without reading the rest.
        /// 1 to <see cref="MaxBodyLimit"/>, else <see cref="ArgumentOutOfRangeException"/>.
        /// </summary>
        public long MaxRequestBodyBytes
        {
            get => _maxRequestBodyBytes;
            set => _maxRequestBodyBytes = CheckBodyLimit(value, nameof(MaxRequestBodyBytes));
        }

        /// <summary>The largest body accepted by /token (default 64 KiB; a JWT-bearer assertion is about 1 KB). Same range.</summary>
        public long MaxTokenRequestBodyBytes
        {
            get => _maxTokenRequestBodyBytes;
            set => _maxTokenRequestBodyBytes = CheckBodyLimit(value, nameof(MaxTokenRequestBodyBytes));
        }

        /// <summary>The default of <see cref="MaxRequestBodyBytes"/>: 1 MiB.</summary>
        public const long DefaultMaxRequestBodyBytes = 1024 * 1024;

        /// <summary>The default of <see cref="MaxTokenRequestBodyBytes"/>: 64 KiB.</summary>
        public const long DefaultMaxTokenRequestBodyBytes = 64 * 1024;

        /// <summary>The largest body limit that may be set: 1 GiB.</summary>
        public const long MaxBodyLimit = 1024L * 1024 * 1024;

        private long _maxRequestBodyBytes = DefaultMaxRequestBodyBytes;
        private long _maxTokenRequestBodyBytes = DefaultMaxTokenRequestBodyBytes;

        private static long CheckBodyLimit(long value, string name)
        {
            if (value < 1 || value > MaxBodyLimit)
                throw new ArgumentOutOfRangeException(name, value, name + " must be 1 to " + MaxBodyLimit + " bytes.");
            return value;
        }

        /// <summary>
        /// A connection with no request in progress — new, kept alive between requests, or still sending its request headers — is
        /// closed after this long (default 2 minutes, longer than HTTP clients keep idle connections: .NET 1 min, .NET Framework
        /// 100 s; as HTTP.sys). More than zero, at most <see cref="MaxTimeout"/>, else <see cref="ArgumentOutOfRangeException"/>.
        /// </summary>
        public TimeSpan IdleTimeout
        {
            get => _idleTimeout;
            set => _idleTimeout = CheckTimeout(value, nameof(IdleTimeout));
        }

        /// <summary>
        /// Time a client gets to send a request body once its headers are in, and separately to take the answer (default 30 s);
        /// past it the connection is dropped without an answer. Same range as <see cref="IdleTimeout"/>.
        /// </summary>
        public TimeSpan BodyTimeout
        {
            get => _bodyTimeout;
            set => _bodyTimeout = CheckTimeout(value, nameof(BodyTimeout));
        }

        /// <summary>The default of <see cref="IdleTimeout"/>: 2 minutes.</summary>
        public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromMinutes(2);

        /// <summary>The default of <see cref="BodyTimeout"/>: 30 seconds.</summary>
        public static readonly TimeSpan DefaultBodyTimeout = TimeSpan.FromSeconds(30);

        /// <summary>The longest <see cref="IdleTimeout"/> or <see cref="BodyTimeout"/>: one hour.</summary>
        public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(1);

        private TimeSpan _idleTimeout = DefaultIdleTimeout;
        private TimeSpan _bodyTimeout = DefaultBodyTimeout;

        private static TimeSpan CheckTimeout(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero || value > MaxTimeout)
                throw new ArgumentOutOfRangeException(name, value, name + " must be more than 00:00:00 and at most " + MaxTimeout.ToString("c", CultureInfo.InvariantCulture) + ".");
            return value;
        }

        /// <summary>The caller when <see cref="NoAuth"/> is set.</summary>
        public const string NoAuthPrincipal = "user@example.com";

        internal EmulatorOptions Clone()
        {
            var copy = (EmulatorOptions)MemberwiseClone();
            copy.Faults = (Faults ?? new EmulatorFaults()).Clone();
            return copy;
        }
    }

    /// <summary>
    /// Fault and rate knobs. Rates are probabilities (0..1) applied per API request under /calendar/v3/
    /// (never to /token or /emulator/v1/). A value out of its range makes <see cref="CalendarEmulator.SetFaults"/> and
    /// <see cref="CalendarEmulator.StartAsync"/> throw <see cref="ArgumentOutOfRangeException"/>.
    /// </summary>
    public sealed class EmulatorFaults
    {
        /// <summary>The largest <see cref="Latency"/>: 10 minutes (longer would only hang clients; Task.Delay stops at 24.8 days).</summary>
        public static readonly TimeSpan MaxLatency = TimeSpan.FromMinutes(10);

        /// <summary>The largest <see cref="RateLimitWindow"/>: one day (the clock can be advanced past any window).</summary>
        public static readonly TimeSpan MaxRateLimitWindow = TimeSpan.FromDays(1);

        /// <summary>The largest <see cref="RetryAfterSeconds"/>: one day.</summary>
        public const int MaxRetryAfterSeconds = 86400;

        /// <summary>Share of API requests answered 500 backendError.</summary>
        public double Error500Rate { get; set; }

        /// <summary>Share of API requests answered 503 backendError.</summary>
        public double Error503Rate { get; set; }

        /// <summary>Share of API requests whose connection is aborted without a response.</summary>
        public double ConnectionResetRate { get; set; }

        /// <summary>Watch only: the channel is created, then the connection is aborted without a response.</summary>
        public double ResponseLostRate { get; set; }

        /// <summary>Share of API requests answered 429 rateLimitExceeded with Retry-After.</summary>
        public double Error429Rate { get; set; }

        /// <summary>Added latency per API request, 0 to <see cref="MaxLatency"/>.</summary>
        public TimeSpan Latency { get; set; } = TimeSpan.Zero;

        /// <summary>Requests per caller principal per <see cref="RateLimitWindow"/>; null = unlimited.</summary>
        public int? UserRateLimit { get; set; }

        /// <summary>Requests for the whole project per <see cref="RateLimitWindow"/>; null = unlimited.</summary>
        public int? ProjectRateLimit { get; set; }

        /// <summary>Sliding window of the rate limits, measured on the emulator clock; more than zero, at most <see cref="MaxRateLimitWindow"/>.</summary>
        public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>"403" (userRateLimitExceeded) or "429" (rateLimitExceeded with Retry-After) for the per-user limit.</summary>
        public string UserRateLimitStatus { get; set; } = "403";

        /// <summary>Retry-After seconds sent with every 429, 0 to <see cref="MaxRetryAfterSeconds"/>.</summary>
        public int RetryAfterSeconds { get; set; } = 1;

        /// <summary>Seed of the fault dice; null = random.</summary>
        public int? Seed { get; set; }

        /// <summary>A copy of these knobs.</summary>
        public EmulatorFaults Clone() => (EmulatorFaults)MemberwiseClone();

        /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> (or <see cref="ArgumentException"/> for the status) for a knob the emulator cannot work with.</summary>
        internal void Validate()
        {
            CheckRate(Error500Rate, nameof(Error500Rate));
            CheckRate(Error503Rate, nameof(Error503Rate));
            CheckRate(ConnectionResetRate, nameof(ConnectionResetRate));
            CheckRate(ResponseLostRate, nameof(ResponseLostRate));
            CheckRate(Error429Rate, nameof(Error429Rate));
            CheckLatency(Latency, nameof(Latency));
            if (UserRateLimit < 0)
                throw new ArgumentOutOfRangeException(nameof(UserRateLimit), UserRateLimit, "UserRateLimit must be null or 0 to 2147483647.");
            if (ProjectRateLimit < 0)
                throw new ArgumentOutOfRangeException(nameof(ProjectRateLimit), ProjectRateLimit, "ProjectRateLimit must be null or 0 to 2147483647.");
            if (RateLimitWindow <= TimeSpan.Zero || RateLimitWindow > MaxRateLimitWindow)
                throw new ArgumentOutOfRangeException(nameof(RateLimitWindow), RateLimitWindow,
                    "RateLimitWindow must be more than 00:00:00 and at most " + MaxRateLimitWindow.ToString("c", CultureInfo.InvariantCulture) + ".");
            if (UserRateLimitStatus != "403" && UserRateLimitStatus != "429")
                throw new ArgumentException("UserRateLimitStatus must be \"403\" or \"429\".", nameof(UserRateLimitStatus));
            if (RetryAfterSeconds < 0 || RetryAfterSeconds > MaxRetryAfterSeconds)
                throw new ArgumentOutOfRangeException(nameof(RetryAfterSeconds), RetryAfterSeconds, "RetryAfterSeconds must be 0 to " + MaxRetryAfterSeconds + ".");
        }

        internal static TimeSpan CheckLatency(TimeSpan value, string name)
        {
            if (value < TimeSpan.Zero || value > MaxLatency)
                throw new ArgumentOutOfRangeException(name, value,
                    name + " must be 00:00:00 to " + MaxLatency.ToString("c", CultureInfo.InvariantCulture) + ".");
            return value;
        }

        private static void CheckRate(double value, string name)
        {
            if (double.IsNaN(value) || value < 0 || value > 1)
                throw new ArgumentOutOfRangeException(name, value, name + " must be between 0 and 1.");
        }
    }
}
