using System;
using System.Collections.Generic;
using System.Text.Json.Nodes;

namespace CalendarWatch.Emulator
{
    /// <summary>An API failure answered in Google's error envelope.</summary>
    internal sealed class GoogleApiException : Exception
    {
        public GoogleApiException(int code, string status, string domain, string reason, string message,
            string? locationType = null, string? location = null)
            : base(message)
        {
            Code = code; Status = status; Domain = domain; Reason = reason; LocationType = locationType; Location = location;
        }

        public int Code { get; }
        public string Status { get; }
        public string Domain { get; }
        public string Reason { get; }
        public string? LocationType { get; }
        public string? Location { get; }
        public Dictionary<string, string> Headers { get; } = new Dictionary<string, string>();

        public JsonObject ToEnvelope()
        {
            var item = new JsonObject { ["domain"] = Domain, ["reason"] = Reason, ["message"] = Message };
            if (LocationType != null) item["locationType"] = LocationType;
            if (Location != null) item["location"] = Location;
            return new JsonObject
            {
                ["error"] = new JsonObject
                {
                    ["code"] = Code,
                    ["message"] = Message,
                    ["errors"] = new JsonArray(item),
                    ["status"] = Status,
                },
            };
        }
    }

    /// <summary>Google's errors, with Google's codes, reasons, status names and (where known) messages.</summary>
    internal static class GoogleErrors
    {
        public const string InvalidArgument = "INVALID_ARGUMENT";
        public const string Unauthenticated = "UNAUTHENTICATED";
        public const string PermissionDenied = "PERMISSION_DENIED";
        public const string NotFoundStatus = "NOT_FOUND";
        public const string ResourceExhausted = "RESOURCE_EXHAUSTED";
        public const string Internal = "INTERNAL";
        public const string Unavailable = "UNAVAILABLE";

        public static GoogleApiException BadRequest(string reason, string message, string? location = null) =>
            new GoogleApiException(400, InvalidArgument, "global", reason, message, location == null ? null : "parameter", location);

        public static GoogleApiException Required(string field) => BadRequest("required", "Required field missing: " + field + ".", field);

        public static GoogleApiException Invalid(string message, string? location = null) => BadRequest("invalid", message, location);

        /// <summary>
        /// A body over the emulator's limit. Google was seen answering this message with 400 badRequest (Gmail, 1 MiB); the emulator
        /// answers 413 so that clients can tell it from other 400s, with the same message and reason.
        /// </summary>
        public static GoogleApiException PayloadTooLarge(long limit) =>
            new GoogleApiException(413, InvalidArgument, "global", "badRequest", "Request payload size exceeds the limit: " + limit + " bytes.");

        public static GoogleApiException ParseError(string message = "Parse Error") => BadRequest("parseError", message);

        /// <summary>
        /// A body not declared JSON. Google documents nothing for its JSON methods; its upload endpoints answer "Media type '…' is
        /// not supported." with reason badContent, which the emulator borrows.
        /// </summary>
        public static GoogleApiException UnsupportedMediaType(string contentType) =>
            BadRequest("badContent", "Media type '" + HttpUtil.Clip(contentType) + "' is not supported. Send the request body as JSON with Content-Type: application/json.");

        public static GoogleApiException PushInvalidTtl() =>
            BadRequest("pushInvalidTtl", "Invalid ttl value for channel. The channel expiration must be in the future and the ttl a positive number of seconds.");

        public static GoogleApiException PushNotSupported() =>
            BadRequest("pushNotSupportedForRequestedResource", "Push notifications are not supported by this resource.");

        public static GoogleApiException ChannelIdNotUnique(string id) =>
            BadRequest("channelIdNotUnique", "Channel id " + id + " not unique");

        public static GoogleApiException NotFound(string message = "Not Found") =>
            new GoogleApiException(404, NotFoundStatus, "global", "notFound", message);

        public static GoogleApiException Gone() =>
            new GoogleApiException(410, "NOT_FOUND", "global", "deleted", "Resource has been deleted");

        public static GoogleApiException Forbidden(string message) =>
            new GoogleApiException(403, PermissionDenied, "global", "forbidden", message);

        public static GoogleApiException LoginRequired()
        {
            var e = new GoogleApiException(401, Unauthenticated, "global", "required",
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "header", "Authorization");
            e.Headers["WWW-Authenticate"] = "Bearer realm=\"https://accounts.google.com/\"";
            return e;
        }

        public static GoogleApiException AuthError()
        {
            var e = new GoogleApiException(401, Unauthenticated, "global", "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "header", "Authorization");
            e.Headers["WWW-Authenticate"] = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"";
            return e;
        }

        public static GoogleApiException InsufficientScopes()
        {
            var e = new GoogleApiException(403, PermissionDenied, "global", "insufficientPermissions",
                "Request had insufficient authentication scopes.");
            e.Headers["WWW-Authenticate"] = "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\"";
            return e;
        }

        public static GoogleApiException UserRateLimit403() =>
            new GoogleApiException(403, PermissionDenied, "usageLimits", "userRateLimitExceeded", "User Rate Limit Exceeded");

        public static GoogleApiException ProjectRateLimit403() =>
            new GoogleApiException(403, PermissionDenied, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded");

        public static GoogleApiException TooManyRequests(int retryAfterSeconds)
        {
            var e = new GoogleApiException(429, ResourceExhausted, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded");
            e.Headers["Retry-After"] = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return e;
        }

        public static GoogleApiException Backend500() =>
            new GoogleApiException(500, Internal, "global", "backendError", "Backend Error");

        public static GoogleApiException Backend503() =>
            new GoogleApiException(503, Unavailable, "global", "backendError", "The service is currently unavailable.");
    }
}
