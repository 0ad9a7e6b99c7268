using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using Polly;
using Polly.Retry;

namespace CalendarWatch.Engine
{
    /// <summary>One retry, as the cmdlet says it under -Verbose.</summary>
    public sealed class RetryNotice
    {
        internal RetryNotice(string operation, int attempt, int maxAttempts, TimeSpan delay, Exception exception, string reason, string? calendarId, string? channelId)
        {
            Operation = operation;
            Attempt = attempt;
            MaxAttempts = maxAttempts;
            Delay = delay;
            Exception = exception;
            Reason = reason;
            CalendarId = calendarId;
            ChannelId = channelId;
        }

        /// <summary>What was tried: <c>watch</c> or <c>stop</c>.</summary>
        public string Operation { get; }

        /// <summary>The attempt that failed (1 = the first); the next one is <c>Attempt + 1</c>.</summary>
        public int Attempt { get; }

        /// <summary>The most attempts this call may make (1 + MaxRetry).</summary>
        public int MaxAttempts { get; }

        /// <summary>How long the call waits before the next attempt.</summary>
        public TimeSpan Delay { get; }

        /// <summary>The failure that is being retried.</summary>
        public Exception Exception { get; }

        /// <summary>Why, in a few words (e.g. <c>HTTP 503 backendError</c>, <c>connection failed</c>).</summary>
        public string Reason { get; }

        public string? CalendarId { get; }

        public string? ChannelId { get; }

        /// <summary>A one-line message for -Verbose; holds no token.</summary>
        public string Message =>
            string.Format(CultureInfo.InvariantCulture, "Retrying the {0} of calendar '{1}' (channel '{2}') in {3:0.###} s, attempt {4}{5}: {6}.",
                Operation, CalendarId ?? "me", ChannelId ?? "-", Delay.TotalSeconds, Attempt + 1,
                IsRateLimit ? " (rate limited: retried within the retry time limit)" : " of " + MaxAttempts.ToString(CultureInfo.InvariantCulture), Reason);

        /// <summary>True when the failure was a rate-limit answer (403 usage limit or 429).</summary>
        public bool IsRateLimit => Failures.IsRateLimit(Exception);

        public override string ToString() => Message;
    }

    /// <summary>
    /// The one place that decides whether and when a failed API call is tried again (Polly.Core retry strategy):
    /// 403 userRateLimitExceeded/rateLimitExceeded/quotaExceeded, 429 (honouring Retry-After), 500/502/503/504,
    /// connection failures and per-attempt timeouts; exponential backoff with jitter; bounded by
    /// <see cref="RetrySettings.MaxRetry"/> and <see cref="RetrySettings.RetryTimeLimit"/>. Anything else (400, 404,
    /// auth failures) fails at once. The caller's cancellation stops it at once, also during a backoff delay.
    /// </summary>
    public sealed class RetryPolicy
    {
        private static readonly ResiliencePropertyKey<CallState> StateKey = new ResiliencePropertyKey<CallState>("CalendarWatch.RetryState");

        // One pipeline for every call: all per-call values (settings, clock, notice callback) travel in the context,
        // so changing a connection's settings never rebuilds anything.
        private static readonly ResiliencePipeline Pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Constant,
                Delay = TimeSpan.Zero,
                UseJitter = false,
                ShouldHandle = static args => new ValueTask<bool>(ShouldRetry(args.Context, args.Outcome.Exception, args.AttemptNumber)),
                DelayGenerator = static args => new ValueTask<TimeSpan?>(args.Context.Properties.GetValue(StateKey, null!).NextDelay),
                OnRetry = static args =>
                {
                    args.Context.Properties.GetValue(StateKey, null!).Notify(args.AttemptNumber, args.RetryDelay, args.Outcome.Exception!);
                    return default;
                },
            })
            .Build();

        public RetryPolicy(RetrySettings settings)
        {
            Settings = settings ?? throw new ArgumentNullException(nameof(settings));
        }

        /// <summary>The (immutable) settings this policy applies.</summary>
        public RetrySettings Settings { get; }

        /// <summary>
        /// Runs <paramref name="attempt"/> until it succeeds, fails for good, or the caller cancels.
        /// <paramref name="call"/> names the operation in retry notices and records whether an earlier attempt may have
        /// reached the server (for the channel-may-exist rule).
        /// </summary>
        public async Task<T> ExecuteAsync<T>(Func<CancellationToken, Task<T>> attempt, RetryCall call, CancellationToken cancellationToken)
        {
            if (attempt is null) throw new ArgumentNullException(nameof(attempt));
            if (call is null) throw new ArgumentNullException(nameof(call));
            var state = new CallState(Settings, call, cancellationToken);
            var context = ResilienceContextPool.Shared.Get(cancellationToken);
            try
            {
                context.Properties.Set(StateKey, state);
                return await Pipeline.ExecuteAsync(
                    static async (ctx, work) => await work(ctx.CancellationToken).ConfigureAwait(false),
                    context,
                    attempt).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }

        /// <summary>
        /// The backoff before retry number <paramref name="retryIndex"/> (0 = first retry): Retry-After when the server
        /// gave one, else BaseDelay·2^n capped at MaxDelay, with "equal jitter" (half fixed, half random) so that many
        /// items that failed together do not come back together.
        /// </summary>
        public static TimeSpan ComputeDelay(RetrySettings settings, int retryIndex, Exception exception)
        {
            if (settings is null) throw new ArgumentNullException(nameof(settings));
            var random = Jitter.Next();
            if (exception is CalendarApiException { RetryAfter: TimeSpan retryAfter })
            {
                // Honour the server's wait; add up to 10 % so a burst of 429s does not return as one burst.
                var wait = retryAfter < TimeSpan.Zero ? TimeSpan.Zero : retryAfter;
                return wait + TimeSpan.FromTicks((long)(wait.Ticks * 0.1 * random));
            }

            double ticks = settings.Backoff(retryIndex).Ticks;
            return TimeSpan.FromTicks((long)((ticks / 2) + (ticks / 2 * random)));
        }

        /// <summary>A short reason text for a failure (status and Google reason, or what broke).</summary>
        public static string Describe(Exception exception)
        {
            switch (exception)
            {
                case CalendarApiException api:
                    var text = "HTTP " + api.StatusCode.ToString(CultureInfo.InvariantCulture) + (api.Reason != null ? " " + api.Reason : string.Empty);
                    return api.RetryAfter is TimeSpan ra ? text + string.Format(CultureInfo.InvariantCulture, " (Retry-After {0:0.###} s)", ra.TotalSeconds) : text;
                case CalendarWatchException { Kind: FailureKind.OperationTimeout } timeout:
                    return timeout.Phase == FailurePhase.TokenEndpoint ? "the token endpoint did not answer in time" : "no answer within the request timeout";
                case CalendarWatchException { Kind: FailureKind.ConnectionError } connection:
                    return "connection failed (" + connection.Message + ")";
                default:
                    return exception.Message;
            }
        }

        private static bool ShouldRetry(ResilienceContext context, Exception? exception, int attemptNumber)
        {
            var state = context.Properties.GetValue(StateKey, null!);
            if (exception is null)
            {
                return false;
            }

            if (Failures.MayHaveTakenEffect(exception))
            {
                state.Call.AnAttemptMayHaveTakenEffect = true;
            }

            if (state.CancellationToken.IsCancellationRequested || !Failures.IsRetryable(exception))
            {
                return false;
            }

            var rateLimited = Failures.IsRateLimit(exception);
            if (state.Settings.MaxRetry == 0 ||
                (rateLimited ? state.RateLimitRetries >= RetrySettings.MaxRateLimitRetries : state.FailureRetries >= state.Settings.MaxRetry))
            {
                return false;
            }

            var delay = rateLimited && state.Call.Pacer != null
                ? state.Call.PacerDelay
                : ComputeDelay(state.Settings, attemptNumber, exception);
            if (state.Elapsed.Elapsed + delay > state.Settings.RetryTimeLimit)
            {
                return false;
            }

            state.NextDelay = delay;
            if (rateLimited) state.RateLimitRetries++;
            else state.FailureRetries++;
            return true;
        }

        private sealed class CallState
        {
            public CallState(RetrySettings settings, RetryCall call, CancellationToken cancellationToken)
            {
                Settings = settings;
                Call = call;
                CancellationToken = cancellationToken;
                Elapsed = Stopwatch.StartNew();
            }

            public RetrySettings Settings { get; }

            public RetryCall Call { get; }

            public CancellationToken CancellationToken { get; }

            public Stopwatch Elapsed { get; }

            public TimeSpan NextDelay { get; set; }

            public int FailureRetries { get; set; }

            public int RateLimitRetries { get; set; }

            public void Notify(int attemptNumber, TimeSpan delay, Exception exception)
            {
                var handler = Call.OnRetry;
                if (handler is null) return;
                var maxAttempts = Failures.IsRateLimit(exception) ? RetrySettings.MaxRateLimitRetries + 1 : Settings.MaxRetry + 1;
                handler(new RetryNotice(Call.Operation, attemptNumber + 1, maxAttempts, delay, exception, Describe(exception), Call.CalendarId, Call.ChannelId));
            }
        }
    }

    /// <summary>The random share of every retry backoff, one generator per thread.</summary>
    internal static class Jitter
    {
        private static readonly ThreadLocal<Random> Random = new ThreadLocal<Random>(() => new Random(Guid.NewGuid().GetHashCode()));

        /// <summary>A number in [0, 1).</summary>
        public static double Next() => Random.Value!.NextDouble();
    }

    /// <summary>One call under the retry policy: what it is (for notices) and what its attempts revealed.</summary>
    public sealed class RetryCall
    {
        public RetryCall(string operation, string? calendarId, string? channelId, Action<RetryNotice>? onRetry)
        {
            Operation = operation ?? throw new ArgumentNullException(nameof(operation));
            CalendarId = calendarId;
            ChannelId = channelId;
            OnRetry = onRetry;
        }

        public string Operation { get; }

        public string? CalendarId { get; }

        public string? ChannelId { get; }

        /// <summary>Called (on a worker thread) before each retry's delay.</summary>
        public Action<RetryNotice>? OnRetry { get; }

        /// <summary>The identity's pacer, when the caller keeps one (see <see cref="RateLimitPacer"/>): it spaces every attempt.</summary>
        public RateLimitPacer? Pacer { get; set; }

        /// <summary>After a rate-limit refusal, how long the pacer holds starts (at least Retry-After): the retry's delay.</summary>
        public TimeSpan PacerDelay { get; set; }

        /// <summary>
        /// True once an attempt failed in a way Google may still have carried out (sent, and no refusal came back:
        /// timeout, cut-off connection, any 5xx; see <see cref="Failures.MayHaveTakenEffect"/>). Set for the last
        /// attempt too, also when it is not retried.
        /// </summary>
        public bool AnAttemptMayHaveTakenEffect { get; internal set; }

        /// <summary>Attempts started so far (the current one's number, for -Debug).</summary>
        internal int Attempts { get; set; }
    }
}
