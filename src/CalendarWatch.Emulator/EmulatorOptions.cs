using System;

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

        /// <summary>Added latency per API request at start; copied into <see cref="EmulatorFaults.Latency"/> when that is zero.</summary>
        public TimeSpan Latency { get; set; } = TimeSpan.Zero;

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
    /// (never to /token or /emulator/v1/).
    /// </summary>
    public sealed class EmulatorFaults
    {
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

        /// <summary>Added latency per API request.</summary>
        public TimeSpan Latency { get; set; } = TimeSpan.Zero;

        /// <summary>Requests per caller principal per <see cref="RateLimitWindow"/>; null = unlimited.</summary>
        public int? UserRateLimit { get; set; }

        /// <summary>Requests for the whole project per <see cref="RateLimitWindow"/>; null = unlimited.</summary>
        public int? ProjectRateLimit { get; set; }

        /// <summary>Sliding window of the rate limits, measured on the emulator clock.</summary>
        public TimeSpan RateLimitWindow { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>"403" (userRateLimitExceeded) or "429" (rateLimitExceeded with Retry-After) for the per-user limit.</summary>
        public string UserRateLimitStatus { get; set; } = "403";

        /// <summary>Retry-After seconds sent with every 429.</summary>
        public int RetryAfterSeconds { get; set; } = 1;

        /// <summary>Seed of the fault dice; null = random.</summary>
        public int? Seed { get; set; }

        /// <summary>A copy of these knobs.</summary>
        public EmulatorFaults Clone() => (EmulatorFaults)MemberwiseClone();

        internal void Validate()
        {
            CheckRate(Error500Rate, nameof(Error500Rate));
            CheckRate(Error503Rate, nameof(Error503Rate));
            CheckRate(ConnectionResetRate, nameof(ConnectionResetRate));
            CheckRate(ResponseLostRate, nameof(ResponseLostRate));
            CheckRate(Error429Rate, nameof(Error429Rate));
            if (Latency < TimeSpan.Zero) throw new ArgumentException("Latency must not be negative.");
            if (UserRateLimit < 0) throw new ArgumentException("UserRateLimit must not be negative.");
            if (ProjectRateLimit < 0) throw new ArgumentException("ProjectRateLimit must not be negative.");
            if (RateLimitWindow <= TimeSpan.Zero) throw new ArgumentException("RateLimitWindow must be positive.");
            if (UserRateLimitStatus != "403" && UserRateLimitStatus != "429")
                throw new ArgumentException("UserRateLimitStatus must be \"403\" or \"429\".");
            if (RetryAfterSeconds < 0) throw new ArgumentException("RetryAfterSeconds must not be negative.");
        }

        private static void CheckRate(double value, string name)
        {
            if (double.IsNaN(value) || value < 0 || value > 1)
                throw new ArgumentException(name + " must be between 0 and 1.");
        }
    }
}
