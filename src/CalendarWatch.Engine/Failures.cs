using System;
using System.IO;
using System.Net.Http;

namespace CalendarWatch.Engine
{
    /// <summary>What kind of failure an error is; the cmdlet layer maps it to a PowerShell ErrorCategory.</summary>
    public enum FailureKind
    {
        InvalidArgument,
        ObjectNotFound,
        PermissionDenied,
        AuthenticationError,
        LimitsExceeded,
        ResourceUnavailable,
        NotSupported,
        ResourceExists,
        ConnectionError,
        OperationTimeout,
        OperationStopped,
        InvalidResult,
    }

    /// <summary>How far a failed call got. Decides whether Google may have carried it out.</summary>
    public enum FailurePhase
    {
        /// <summary>Nothing reached the API: bad input, an unusable connection, a connection that was never made.</summary>
        NotSent,

        /// <summary>Getting the access token failed; the API request was not sent.</summary>
        TokenEndpoint,

        /// <summary>The API request was sent: Google may have carried it out unless it answered with a refusal (4xx).</summary>
        ApiRequest,
    }

    /// <summary>
    /// The one place where failures are classified, by kind and phase (never by ErrorId): which are worth another
    /// attempt, which may have been carried out by Google (so a channel may exist), and how transport failures
    /// become <see cref="CalendarWatchException"/>s with the right phase.
    /// </summary>
    public static class Failures
    {
        /// <summary>True for failures worth another attempt: rate limits, 5xx, broken connections, timeouts (API or token endpoint).</summary>
        public static bool IsRetryable(Exception? exception) => exception is CalendarWatchException { IsTransient: true };

        /// <summary>True for Google's rate-limit answers: 429 and 403 with a usage-limit reason.</summary>
        public static bool IsRateLimit(Exception? exception) => exception is CalendarApiException { IsRateLimit: true };

        /// <summary>
        /// True when Google may have carried out the failed attempt: the API request was sent and no refusal came back
        /// (no answer at all, a cut-off connection, a timeout, or any 5xx — with Google's error envelope or not).
        /// </summary>
        public static bool MayHaveTakenEffect(Exception? exception) =>
            exception is CalendarWatchException { Phase: FailurePhase.ApiRequest } failure &&
            !(failure is CalendarApiException api && api.StatusCode < 500);

        /// <summary>True when no connection to the host was ever made (refused, DNS, unreachable, TLS): nothing was sent.</summary>
        public static bool IsConnectFailure(Exception exception) => EndpointHealth.IsUnreachable(exception);

        /// <summary>An API attempt that got no answer because the connection failed (refused, reset, DNS, TLS).</summary>
        public static CalendarWatchException ApiConnectionFailed(Exception exception, Uri endpoint)
        {
            var nothingSent = IsConnectFailure(exception);
            var text = ExceptionText.InnermostMessage(exception);
            return new CalendarWatchException("CalendarWatch.ConnectionFailed", FailureKind.ConnectionError,
                nothingSent
                    ? $"Could not connect to {endpoint}: {text}. Nothing was sent. Check the address, that the host is up, and any proxy or firewall."
                    : $"The connection to {endpoint} failed before an answer came: {text}.", exception)
            {
                Phase = nothingSent ? FailurePhase.NotSent : FailurePhase.ApiRequest,
                IsTransient = true,
            };
        }

        /// <summary>An API attempt that got no answer within the request timeout: Google may have carried it out.</summary>
        public static CalendarWatchException ApiTimeout(Exception exception, Uri uri, TimeSpan timeout) =>
            new CalendarWatchException("CalendarWatch.Timeout", FailureKind.OperationTimeout,
                $"The API did not answer within {timeout.TotalSeconds:0.###} s ({uri.GetLeftPart(UriPartial.Path)}).", exception)
            {
                Phase = FailurePhase.ApiRequest,
                IsTransient = true,
            };

        /// <summary>True for exceptions that are a failed transport (the request may or may not have left).</summary>
        public static bool IsTransportFailure(Exception exception) => exception is HttpRequestException || exception is IOException;
    }
}
