using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine.Json;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// The Calendar API calls CalendarWatch makes: the four watch methods and channels.stop. One instance per
    /// connection; safe to use from many threads at once.
    /// </summary>
    public sealed class CalendarApiClient
    {
        /// <summary>The event types Google's discovery document lists for events.watch (others pass through).</summary>
        public static readonly IReadOnlyList<string> KnownEventTypes = new[] { "birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation" };

        public const int MaxChannelIdLength = 64;
        public const int MaxTokenLength = 256;

        private readonly CalendarConnection _connection;
        private RetryPolicy _policy;

        // One pacer per identity (per-user quotas are per subject).
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, RateLimitPacer> _pacers = new System.Collections.Concurrent.ConcurrentDictionary<string, RateLimitPacer>(StringComparer.OrdinalIgnoreCase);

        public CalendarApiClient(CalendarConnection connection)
        {
            _connection = connection ?? throw new ArgumentNullException(nameof(connection));
            _policy = new RetryPolicy(connection.Retry);
        }

        public CalendarConnection Connection => _connection;

        /// <summary>The pacer of one identity (null = the connection's default subject), once a call has used it.</summary>
        public RateLimitPacer? PacerFor(string? subject) => _pacers.TryGetValue(subject ?? _connection.DefaultSubject ?? string.Empty, out var pacer) ? pacer : null;

        /// <summary>Creates one channel; throws <see cref="CalendarWatchException"/> for anything that is not a channel.</summary>
        public Task<Channel> WatchAsync(WatchRequest request, CancellationToken cancellationToken = default) => WatchAsync(request, null, cancellationToken);

        /// <summary>
        /// Creates one channel, retrying transient failures under the connection's <see cref="RetrySettings"/>;
        /// <paramref name="onRetry"/> hears each retry (on a worker thread). A retried POST that meets
        /// channelIdNotUnique after an attempt that may have reached the server fails as <c>CalendarWatch.ChannelMayExist</c>.
        /// </summary>
        public async Task<Channel> WatchAsync(WatchRequest request, Action<RetryNotice>? onRetry, CancellationToken cancellationToken = default)
        {
            Validate(request, _connection.AllowsHttpAddresses);
            var subject = request.Subject ?? _connection.DefaultSubject;
            var calendarId = CalendarIdFor(request);
            var address = request.Address!.AbsoluteUri;
            var token = string.IsNullOrEmpty(request.Token) ? null : request.Token;
            var body = new ChannelWire
            {
                Id = request.ChannelId,
                Type = "web_hook",
                Address = address,
                Token = token,
            };
            if (request.TimeToLive is TimeSpan ttl)
            {
                body.Params = new Dictionary<string, string> { ["ttl"] = ((long)Math.Ceiling(ttl.TotalSeconds)).ToString(CultureInfo.InvariantCulture) };
            }
            else if (request.ExpiresAt is DateTimeOffset expiresAt)
            {
                body.Expiration = expiresAt.ToUnixTimeMilliseconds();
            }

            var json = JsonSerializer.Serialize(body, WireJsonContext.Default.ChannelWire);
            var path = WatchPath(request);
            var scopes = _connection.ScopesFor(Scopes.ForWatch(request.Resource));
            var call = new RetryCall("watch", calendarId, request.ChannelId, onRetry);
            try
            {
                using var response = await SendAsync(path, json, subject, scopes, call, cancellationToken).ConfigureAwait(false);
                var text = await ReadBodyAsync(response).ConfigureAwait(false);
                ChannelWire? wire;
                try
                {
                    wire = JsonSerializer.Deserialize(text, WireJsonContext.Default.ChannelWire);
                }
                catch (JsonException ex)
                {
                    throw new CalendarWatchException("CalendarWatch.InvalidResponse", FailureKind.InvalidResult,
                        $"The API answered the watch of '{request.CalendarId}' with a body that is not a channel ({ex.Message}). Channel '{request.ChannelId}' may exist: stop it by id if it does.", ex);
                }

                if (wire is null || string.IsNullOrEmpty(wire.ResourceId))
                {
                    throw new CalendarWatchException("CalendarWatch.InvalidResponse", FailureKind.InvalidResult,
                        $"The API answered the watch of '{request.CalendarId}' without a resourceId. Channel '{request.ChannelId}' may exist: stop it by id if it does.");
                }

                return new Channel
                {
                    Kind = wire.Kind ?? "api#channel",
                    Id = wire.Id ?? request.ChannelId,
                    ResourceId = wire.ResourceId!,
                    ResourceUri = wire.ResourceUri,
                    Token = wire.Token ?? token,
                    Expiration = wire.Expiration is long ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null,
                    CalendarId = calendarId,
                    Resource = request.Resource.ToString(),
                    Address = address,
                    EventTypes = string.Join(",", request.EventTypes),
                    Subject = subject,
                };
            }
            catch (CalendarApiException ex) when (ex.Reason == "channelIdNotUnique" && (call.EarlierAttemptMayHaveReachedServer || request.ChannelIdGenerated))
            {
                // An earlier attempt of this very call timed out or lost its connection, or the id was fresh (so only
                // this request can have used it): it may have created the channel, and this delivery met it. Never
                // success (we have no resourceId), never silent.
                var why = call.EarlierAttemptMayHaveReachedServer
                    ? "an earlier attempt was cut off after it may have reached Google, and the retry found the id taken"
                    : "the id was new, so only an earlier delivery of this same request (resent after a dropped connection) can have taken it";
                throw new CalendarWatchException("CalendarWatch.ChannelMayExist", FailureKind.ResourceExists,
                    $"Channel '{request.ChannelId}' on calendar '{calendarId}' (address {address}) may exist: {why}. " +
                    "Google sends its notifications to that address with X-Goog-Channel-ID set to this id; stop it with the X-Goog-Resource-ID from one of them, or let it expire.", ex)
                {
                    CalendarId = calendarId,
                    ChannelId = request.ChannelId,
                    Subject = subject,
                };
            }
            catch (CalendarWatchException ex)
            {
                ex.CalendarId ??= calendarId;
                ex.ChannelId ??= request.ChannelId;
                ex.Subject ??= subject;
                if (ex is CalendarApiException { Reason: "insufficientPermissions" } api) throw Auth.AuthErrors.InsufficientPermissions(api, Scopes.WatchMethod(request.Resource), scopes, Scopes.AcceptedByWatch(request.Resource));
                throw;
            }
        }

        /// <summary>Stops a channel (channels.stop). Google answers 204; an unknown id or resourceId is 404.</summary>
        public Task StopChannelAsync(StopChannelRequest request, CancellationToken cancellationToken = default) => StopChannelAsync(request, null, cancellationToken);

        /// <summary>Stops a channel, retrying transient failures; <paramref name="onRetry"/> hears each retry.</summary>
        public async Task StopChannelAsync(StopChannelRequest request, Action<RetryNotice>? onRetry, CancellationToken cancellationToken = default)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            if (string.IsNullOrWhiteSpace(request.ChannelId)) throw Invalid("CalendarWatch.InvalidChannelId", "The channel id is empty. Give the Id that the watch returned.", request.CalendarId, request.ChannelId);
            if (string.IsNullOrWhiteSpace(request.ResourceId)) throw Invalid("CalendarWatch.InvalidResourceId", $"Channel '{request.ChannelId}' has no ResourceId. Give the ResourceId that the watch returned; without it Google cannot stop the channel.", request.CalendarId, request.ChannelId);
            var subject = request.Subject ?? _connection.DefaultSubject;
            var scopes = _connection.ScopesFor(Scopes.ForStop);
            var json = JsonSerializer.Serialize(new StopWire { Id = request.ChannelId, ResourceId = request.ResourceId, Token = string.IsNullOrEmpty(request.Token) ? null : request.Token }, WireJsonContext.Default.StopWire);
            try
            {
                var call = new RetryCall("stop", request.CalendarId, request.ChannelId, onRetry);
                using var response = await SendAsync("calendar/v3/channels/stop", json, subject, scopes, call, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex)
            {
                ex.CalendarId ??= request.CalendarId;
                ex.ChannelId ??= request.ChannelId;
                ex.Subject ??= subject;
                if (ex is CalendarApiException { Reason: "insufficientPermissions" } api) throw Auth.AuthErrors.InsufficientPermissions(api, Scopes.StopMethod, scopes, Scopes.AcceptedByStop);
                throw;
            }
        }

        /// <summary>Checks a request before anything is sent; the message names the value and the fix.</summary>
        public static void Validate(WatchRequest request, bool allowHttpAddresses)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            var calendarId = request.CalendarId;
            if ((request.Resource == WatchResource.Events || request.Resource == WatchResource.Acl) && string.IsNullOrWhiteSpace(calendarId))
            {
                throw Invalid("CalendarWatch.InvalidCalendarId", "The calendar id is empty. Give a calendar id such as 'primary' or 'room-1@resource.calendar.google.com'.", calendarId, request.ChannelId);
            }

            if (string.IsNullOrEmpty(request.ChannelId))
            {
                throw Invalid("CalendarWatch.InvalidChannelId", "The channel id is empty. Omit -ChannelId to get a new GUID, or give a unique id of at most 64 characters.", calendarId, request.ChannelId);
            }

            if (request.ChannelId.Length > MaxChannelIdLength)
            {
                throw Invalid("CalendarWatch.InvalidChannelId", $"The channel id '{request.ChannelId}' is {request.ChannelId.Length} characters long; Google allows at most {MaxChannelIdLength}.", calendarId, request.ChannelId);
            }

            if (request.Token is { Length: > MaxTokenLength })
            {
                throw Invalid("CalendarWatch.InvalidToken", $"The channel token is {request.Token.Length} characters long; Google allows at most {MaxTokenLength}.", calendarId, request.ChannelId);
            }

            var address = request.Address;
            if (address is null || !address.IsAbsoluteUri)
            {
                throw Invalid("CalendarWatch.InvalidAddress", $"The address '{address}' is not an absolute URI. Give the https URL of your webhook receiver.", calendarId, request.ChannelId);
            }

            if (address.Scheme != Uri.UriSchemeHttps && !(address.Scheme == Uri.UriSchemeHttp && allowHttpAddresses))
            {
                var hint = address.Scheme == Uri.UriSchemeHttp
                    ? "Google delivers only to https addresses with a certificate from a trusted CA; plain http is accepted only when connected to the emulator or an API endpoint on loopback."
                    : "Give an https URL.";
                throw Invalid("CalendarWatch.InvalidAddress", $"The address '{address}' is not https. {hint}", calendarId, request.ChannelId);
            }

            if (request.TimeToLive is TimeSpan ttl && ttl <= TimeSpan.Zero)
            {
                throw Invalid("CalendarWatch.InvalidTtl", $"The time to live {ttl} is not positive. Give a lifetime such as (New-TimeSpan -Days 7).", calendarId, request.ChannelId);
            }

            if (request.TimeToLive.HasValue && request.ExpiresAt.HasValue)
            {
                throw Invalid("CalendarWatch.InvalidTtl", "Give a time to live or an expiry time, not both.", calendarId, request.ChannelId);
            }

            foreach (var eventType in request.EventTypes)
            {
                if (string.IsNullOrWhiteSpace(eventType))
                {
                    throw Invalid("CalendarWatch.InvalidEventType", "An event type is empty. Give values such as " + string.Join(", ", KnownEventTypes) + ".", calendarId, request.ChannelId);
                }
            }
        }

        /// <summary>The path below the API root for a watch, with the calendar id as one percent-encoded segment.</summary>
        public static string WatchPath(WatchRequest request)
        {
            switch (request.Resource)
            {
                case WatchResource.Events:
                    var path = "calendar/v3/calendars/" + EncodeSegment(request.CalendarId) + "/events/watch";
                    if (request.EventTypes.Count > 0)
                    {
                        path += "?" + string.Join("&", request.EventTypes.Select(t => "eventTypes=" + Uri.EscapeDataString(t)));
                    }

                    return path;
                case WatchResource.Acl:
                    return "calendar/v3/calendars/" + EncodeSegment(request.CalendarId) + "/acl/watch";
                case WatchResource.CalendarList:
                    return "calendar/v3/users/me/calendarList/watch";
                case WatchResource.Settings:
                    return "calendar/v3/users/me/settings/watch";
                default:
                    throw new ArgumentOutOfRangeException(nameof(request));
            }
        }

        /// <summary>Percent-encodes a value as a single path segment (RFC 3986 unreserved characters stay as they are).</summary>
        public static string EncodeSegment(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            var sb = new StringBuilder(bytes.Length * 3);
            foreach (var b in bytes)
            {
                var c = (char)b;
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~')
                {
                    sb.Append(c);
                }
                else
                {
                    sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
                }
            }

            return sb.ToString();
        }

        private static string CalendarIdFor(WatchRequest request) =>
            request.Resource == WatchResource.Events || request.Resource == WatchResource.Acl ? request.CalendarId : "me";

        private static CalendarWatchException Invalid(string errorId, string message, string? calendarId, string? channelId) =>
            new CalendarWatchException(errorId, FailureKind.InvalidArgument, message) { CalendarId = calendarId, ChannelId = channelId };

        /// <summary>One POST under the connection's retry policy (<see cref="RetryPolicy"/>), each attempt as below.</summary>
        private Task<HttpResponseMessage> SendAsync(string relativePath, string json, string? subject, IReadOnlyList<string> scopes, RetryCall call, CancellationToken cancellationToken)
        {
            // The connection's settings may have been replaced or changed since the last call: rebuild on a difference.
            var policy = _policy;
            if (!policy.Settings.SameAs(_connection.Retry))
            {
                policy = _policy = new RetryPolicy(_connection.Retry);
            }

            var pacer = _pacers.GetOrAdd(subject ?? string.Empty, _ => new RateLimitPacer());
            call.Pacer = pacer;
            return policy.ExecuteAsync(
                async ct =>
                {
                    var slot = await pacer.WaitAsync(ct).ConfigureAwait(false);
                    try
                    {
                        var response = await SendOnceAsync(relativePath, json, subject, scopes, ct).ConfigureAwait(false);
                        pacer.Completed(slot);
                        return response;
                    }
                    catch (CalendarApiException ex) when (ex.IsRateLimit)
                    {
                        call.PacerDelay = pacer.Refused(slot, ex.RetryAfter);
                        throw;
                    }
                    catch
                    {
                        pacer.Completed(slot);
                        throw;
                    }
                },
                call,
                cancellationToken);
        }

        /// <summary>
        /// One attempt: a POST with a bearer token for (subject, scopes). A 401 drops the cached token and tries once more.
        /// Returns only success responses; anything else becomes a <see cref="CalendarWatchException"/>.
        /// </summary>
        private async Task<HttpResponseMessage> SendOnceAsync(string relativePath, string json, string? subject, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
        {
            var uri = new Uri(_connection.ApiEndpoint, relativePath);
            for (var attempt = 0; ; attempt++)
            {
                var forceRefresh = attempt > 0;
                _connection.ApiHealth.ThrowIfDown();
                _connection.TokenHealth.ThrowIfDown();
                string? token;
                try
                {
                    token = await _connection.TokenSource.GetAccessTokenAsync(subject, scopes, forceRefresh, cancellationToken).ConfigureAwait(false);
                }
                catch (CalendarWatchException ex)
                {
                    if (_connection.TokenHealth.Failed(ex)) _connection.TokenHealth.ThrowIfDown();
                    throw;
                }

                _connection.TokenHealth.Reached();
                using var message = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                if (token != null)
                {
                    message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }

                HttpResponseMessage response;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    timeout.CancelAfter(_connection.RequestTimeout);
                    try
                    {
                        response = await _connection.Http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new CalendarWatchException("CalendarWatch.Timeout", FailureKind.OperationTimeout,
                            $"The API did not answer within {_connection.RequestTimeout.TotalSeconds:0} s ({uri.GetLeftPart(UriPartial.Path)}).", ex);
                    }
                    catch (Exception ex) when (ex is HttpRequestException || ex is IOException)
                    {
                        if (_connection.ApiHealth.Failed(ex)) _connection.ApiHealth.ThrowIfDown();
                        throw new CalendarWatchException("CalendarWatch.ConnectionFailed", FailureKind.ConnectionError,
                            $"The connection to {_connection.ApiEndpoint} failed: {ExceptionText.InnermostMessage(ex)}", ex);
                    }
                }

                _connection.ApiHealth.Reached();
                if (response.IsSuccessStatusCode)
                {
                    return response;
                }

                using (response)
                {
                    var error = await ToExceptionAsync(response).ConfigureAwait(false);
                    // A 401 for a token we sent: the token may have expired early. Refresh it once and try once more
                    // (not for Google's "Unauthorized WebHook callback channel", which no token fixes).
                    if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && token != null && error.ErrorId == "CalendarWatch.AuthError")
                    {
                        continue;
                    }

                    throw error;
                }
            }
        }

        private static Task<string> ReadBodyAsync(HttpResponseMessage response) => response.Content.ReadAsStringAsync();

        /// <summary>Reads Google's error envelope tolerantly: status and details may be missing, the body may not be JSON.</summary>
        internal static async Task<CalendarApiException> ToExceptionAsync(HttpResponseMessage response)
        {
            var status = (int)response.StatusCode;
            string text;
            try
            {
                text = await ReadBodyAsync(response).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException || ex is HttpRequestException)
            {
                text = string.Empty;
            }

            ErrorBodyWire? body = null;
            try
            {
                body = text.Length > 0 ? JsonSerializer.Deserialize(text, WireJsonContext.Default.ErrorEnvelopeWire)?.Error : null;
            }
            catch (JsonException)
            {
            }

            var item = body?.Errors?.FirstOrDefault();
            var apiMessage = body?.Message ?? item?.Message ?? (text.Length > 0 && text.Length <= 300 && body is null ? text.Trim() : response.ReasonPhrase ?? ("HTTP " + status));
            var reason = item?.Reason;
            var exception = new CalendarApiException(status, reason, item?.Domain, apiMessage, body?.Status, Describe(status, reason, apiMessage));
            if (response.Headers.RetryAfter is RetryConditionHeaderValue retryAfter)
            {
                exception.RetryAfter = retryAfter.Delta ?? (retryAfter.Date - DateTimeOffset.UtcNow);
            }

            return exception;
        }

        /// <summary>A message a person can act on, with Google's own words at the end.</summary>
        private static string Describe(int status, string? reason, string apiMessage)
        {
            var advice = reason switch
            {
                "pushNotSupportedForRequestedResource" => "This calendar cannot be watched (holiday, birthday, contacts and other generated calendars have no push notifications).",
                "channelIdNotUnique" => "The channel id was used before in this Google Cloud project (even a stopped channel's id cannot be reused). Omit -ChannelId to get a new GUID.",
                "pushInvalidTtl" => "The lifetime asked for is invalid: give -TimeToLive as a positive TimeSpan or -ExpiresAt in the future.",
                "notFound" => "The calendar does not exist or the identity cannot see it. Check the id, or connect as (or -Subject) a user who can see the calendar.",
                "authError" => "The credentials are invalid or expired. Run Connect-CalendarWatch again.",
                "insufficientPermissions" => "The access token lacks a scope this method accepts. Connect with a scope it accepts (see Connect-CalendarWatch -Scope).",
                "userRateLimitExceeded" => "The per-user rate limit was exceeded. Lower -ThrottleLimit or spread the work over more time.",
                "rateLimitExceeded" => "The rate limit was exceeded. Lower -ThrottleLimit or spread the work over more time.",
                "quotaExceeded" => "The Calendar usage limits were exceeded. Wait before trying again.",
                _ => status switch
                {
                    401 when apiMessage.IndexOf("WebHook", StringComparison.OrdinalIgnoreCase) >= 0 => "Google refused the webhook address's domain.",
                    429 => "Too many requests. Lower -ThrottleLimit or wait before trying again.",
                    >= 500 => "Google's service failed; trying again later usually works.",
                    _ => null,
                },
            };
            var prefix = "HTTP " + status + (reason != null ? " " + reason : string.Empty) + ": ";
            return advice is null ? prefix + apiMessage : prefix + advice + " (Google: " + apiMessage + ")";
        }
    }
}
