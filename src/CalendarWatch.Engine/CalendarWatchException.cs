using System;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// Every failure the engine reports for one item: an ErrorId (<c>CalendarWatch.X</c>), a kind, the calendar and
    /// channel it concerns, and a message a person can act on. Never carries a token or key.
    /// </summary>
    public class CalendarWatchException : Exception
    {
        public CalendarWatchException(string errorId, FailureKind kind, string message, Exception? innerException = null)
            : base(message, innerException)
        {
            ErrorId = errorId;
            Kind = kind;
        }

        /// <summary>Stable identifier, e.g. <c>CalendarWatch.PushNotSupported</c>.</summary>
        public string ErrorId { get; }

        public FailureKind Kind { get; }

        /// <summary>How far the failed call got: nothing sent, the token endpoint, or an API request that may have reached Google.</summary>
        public FailurePhase Phase { get; set; } = FailurePhase.NotSent;

        /// <summary>
        /// True for failures worth another attempt: rate limits, 5xx (API or token endpoint), broken connections and
        /// timeouts. Set where the failure is classified (<see cref="Failures"/>), never derived from the ErrorId.
        /// </summary>
        public bool IsTransient { get; set; }

        public string? CalendarId { get; set; }

        public string? ChannelId { get; set; }

        /// <summary>The webhook address of the channel concerned, when there is one (never with userinfo).</summary>
        public string? Address { get; set; }

        public string? Subject { get; set; }
    }

    /// <summary>Text taken from exceptions for messages.</summary>
    internal static class ExceptionText
    {
        /// <summary>The innermost exception's message: for a failed connection, the socket's own words.</summary>
        public static string InnermostMessage(Exception exception)
        {
            while (exception.InnerException != null) exception = exception.InnerException;
            return exception.Message;
        }
    }

    /// <summary>An error answered by Google's API (or the emulator) in Google's error envelope.</summary>
    public sealed class CalendarApiException : CalendarWatchException
    {
        public CalendarApiException(int statusCode, string? reason, string? domain, string apiMessage, string? status, string message)
            : base(ErrorIdFor(statusCode, reason, apiMessage), KindFor(statusCode, reason), message)
        {
            StatusCode = statusCode;
            Reason = reason;
            Domain = domain;
            ApiMessage = apiMessage;
            Status = status;
            Phase = FailurePhase.ApiRequest;
            IsTransient = IsRateLimit || statusCode == 500 || statusCode == 502 || statusCode == 503 || statusCode == 504;
        }

        /// <summary>The HTTP status code.</summary>
        public int StatusCode { get; }

        /// <summary>Google's <c>error.errors[0].reason</c>, e.g. <c>pushNotSupportedForRequestedResource</c>.</summary>
        public string? Reason { get; }

        /// <summary>Google's <c>error.errors[0].domain</c>, e.g. <c>usageLimits</c>.</summary>
        public string? Domain { get; }

        /// <summary>Google's own message, verbatim.</summary>
        public string ApiMessage { get; }

        /// <summary>Google's <c>error.status</c>, e.g. <c>PERMISSION_DENIED</c>, when present.</summary>
        public string? Status { get; }

        /// <summary>True for Google's rate-limit answers: 429, and 403 with a usage-limit reason.</summary>
        public bool IsRateLimit => StatusCode == 429 || (StatusCode == 403 && IsRateLimitReason(Reason));

        /// <summary>
        /// Google's per-project limit (403 usageLimits/rateLimitExceeded): charged to the whole project, whichever user
        /// is impersonated, unlike userRateLimitExceeded (per user) and 429 (taken as per user, the commoner case).
        /// </summary>
        public bool IsProjectRateLimit => StatusCode == 403 && string.Equals(Reason, "rateLimitExceeded", StringComparison.Ordinal);

        /// <summary>Google's 401 "Unauthorized WebHook callback channel": the address's domain is refused, no token helps.</summary>
        public bool IsWebHookRefusal => StatusCode == 401 && ApiMessage.IndexOf("WebHook", StringComparison.OrdinalIgnoreCase) >= 0;

        /// <summary>Retry-After from the response, when Google sent one.</summary>
        public TimeSpan? RetryAfter { get; set; }

        internal static string ErrorIdFor(int statusCode, string? reason, string apiMessage)
        {
            switch (reason)
            {
                case "pushNotSupportedForRequestedResource": return "CalendarWatch.PushNotSupported";
                case "channelIdNotUnique": return "CalendarWatch.ChannelIdNotUnique";
                case "pushInvalidTtl": return "CalendarWatch.InvalidTtl";
                case "authError": return "CalendarWatch.AuthError";
                case "insufficientPermissions": return "CalendarWatch.InsufficientPermissions";
                case "userRateLimitExceeded": return "CalendarWatch.UserRateLimitExceeded";
                case "rateLimitExceeded": return "CalendarWatch.RateLimitExceeded";
                case "quotaExceeded": return "CalendarWatch.QuotaExceeded";
                case "notFound": return "CalendarWatch.NotFound";
                case "backendError": return "CalendarWatch.BackendError";
                case "invalid":
                case "required":
                    return "CalendarWatch.InvalidRequest";
            }

            if (statusCode == 401 && apiMessage.IndexOf("WebHook", StringComparison.OrdinalIgnoreCase) >= 0)
            {
                return "CalendarWatch.UnauthorizedWebHook";
            }

            if (!string.IsNullOrEmpty(reason))
            {
                return "CalendarWatch." + char.ToUpperInvariant(reason![0]) + reason.Substring(1);
            }

            return statusCode switch
            {
                400 => "CalendarWatch.BadRequest",
                401 => "CalendarWatch.AuthError",
                403 => "CalendarWatch.Forbidden",
                404 => "CalendarWatch.NotFound",
                429 => "CalendarWatch.RateLimitExceeded",
                _ => "CalendarWatch.Http" + statusCode,
            };
        }

        /// <summary>Google's usage-limit reasons: waiting is their only cure.</summary>
        private static bool IsRateLimitReason(string? reason) =>
            reason == "userRateLimitExceeded" || reason == "rateLimitExceeded" || reason == "quotaExceeded";

        internal static FailureKind KindFor(int statusCode, string? reason)
        {
            if (reason == "pushNotSupportedForRequestedResource") return FailureKind.NotSupported;
            if (reason == "channelIdNotUnique") return FailureKind.ResourceExists;
            if (IsRateLimitReason(reason)) return FailureKind.LimitsExceeded;
            return statusCode switch
            {
                400 => FailureKind.InvalidArgument,
                401 => FailureKind.AuthenticationError,
                403 => FailureKind.PermissionDenied,
                404 => FailureKind.ObjectNotFound,
                429 => FailureKind.LimitsExceeded,
                _ => FailureKind.ResourceUnavailable,
            };
        }
    }
}
