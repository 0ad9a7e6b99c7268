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
    /// The Calendar API calls CalendarWatch makes, over the rows of <see cref="ApiMethod"/> and one generic send:
    /// token, request, retry policy, rate-limit gate, error mapping. One instance per connection or command; safe to
    /// use from many threads at once. What a failure means is decided in <see cref="Failures"/>.
    /// </summary>
    public sealed class CalendarApiClient
    {
        /// <summary>The event types Google's discovery document lists for events.watch (others pass through).</summary>
        public static readonly IReadOnlyList<string> KnownEventTypes = new[] { "birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation" };

        private readonly CalendarConnection _connection;

        public CalendarApiClient(CalendarConnection connection)
        {
            _connection = connection ?? throw new ArgumentNullException(nameof(connection));
        }

        public CalendarConnection Connection => _connection;

        /// <summary>The pacer of one identity on this connection, once a call has used it (null = the default subject).</summary>
        public RateLimitPacer? PacerFor(string? subject) => _connection.ExistingPacerFor(subject);

        /// <summary>Creates one channel; throws <see cref="CalendarWatchException"/> for anything that is not a channel.</summary>
        public Task<Channel> WatchAsync(WatchRequest request, CancellationToken cancellationToken = default) => WatchAsync(request, null, cancellationToken);

        /// <summary>
        /// Creates one channel, retrying transient failures under the connection's <see cref="RetrySettings"/>;
        /// <paramref name="onRetry"/> hears each retry (on a worker thread). Whenever Google may have created the
        /// channel although no channel came back (an attempt was sent and no refusal answered it: timeout, cut-off
        /// connection, any 5xx — also when retries ran out or were off), the failure is <c>CalendarWatch.ChannelMayExist</c>
        /// naming the channel id, calendar and address.
        /// </summary>
        public async Task<Channel> WatchAsync(WatchRequest request, Action<RetryNotice>? onRetry, CancellationToken cancellationToken = default)
        {
            Validate(request, _connection.AllowsHttpAddresses);
            var method = ApiMethod.Watch(request.Resource);
            var subject = _connection.SubjectFor(request.Subject);
            // The calendar-list and settings watches watch the caller's own: name them by the user acting.
            var calendarId = method.TakesCalendarId ? request.CalendarId : subject ?? _connection.Account ?? "me";
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

            var json = WireJson.Write(body);
            var query = request.Resource == WatchResource.Events && request.EventTypes.Count > 0
                ? string.Join("&", request.EventTypes.Select(t => "eventTypes=" + Uri.EscapeDataString(t)))
                : null;
            var call = new RetryCall(method.Operation, calendarId, request.ChannelId, onRetry);
            string text;
            try
            {
                using var response = await SendAsync(method, method.PathFor(calendarId, query), json, subject, call, cancellationToken).ConfigureAwait(false);
                text = await ReadBodyAsync(response).ConfigureAwait(false);
            }
            catch (CalendarApiException ex) when (ex.Reason == "channelIdNotUnique" && (call.AnAttemptMayHaveTakenEffect || request.ChannelIdGenerated))
            {
                // An earlier attempt of this very call may have been carried out, or the id was fresh (so only this
                // request can have used it): it may have created the channel, and this delivery met it. Never success
                // (we have no resourceId), never silent, and never advice that leads to a second channel.
                var why = call.AnAttemptMayHaveTakenEffect
                    ? "an earlier attempt was sent and got no refusal (it may have been carried out), and the retry found the id taken"
                    : "the id was new, so only an earlier delivery of this same request (resent after a dropped connection) can have taken it";
                throw ChannelMayExist(request, calendarId, address, subject, why, ex);
            }
            catch (CalendarWatchException ex) when (call.AnAttemptMayHaveTakenEffect || Failures.MayHaveTakenEffect(ex))
            {
                throw ChannelMayExist(request, calendarId, address, subject, "the request was sent and no refusal came back (" + RetryPolicy.Describe(ex) + ")", ex);
            }
            catch (CalendarWatchException ex)
            {
                ex.Address ??= address;
                throw;
            }

            ChannelWire? wire;
            try
            {
                wire = WireJson.ReadChannel(text);
            }
            catch (JsonException ex)
            {
                throw ChannelMayExist(request, calendarId, address, subject, $"Google answered with a body that is not a channel ({ex.Message})", ex, FailureKind.InvalidResult);
            }

            if (wire is null || string.IsNullOrEmpty(wire.ResourceId))
            {
                throw ChannelMayExist(request, calendarId, address, subject, "Google answered without a resourceId", null, FailureKind.InvalidResult);
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
                Account = _connection.Account,
                Subject = subject,
            };
        }

        /// <summary>Stops a channel (channels.stop). Google answers 204; an unknown id or resourceId is 404.</summary>
        public Task StopChannelAsync(StopChannelRequest request, CancellationToken cancellationToken = default) => StopChannelAsync(request, null, cancellationToken);

        /// <summary>Stops a channel, retrying transient failures; <paramref name="onRetry"/> hears each retry.</summary>
        public async Task StopChannelAsync(StopChannelRequest request, Action<RetryNotice>? onRetry, CancellationToken cancellationToken = default)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            RequestValidation.ValidateChannelId(request.ChannelId, request.CalendarId);
            if (string.IsNullOrWhiteSpace(request.ResourceId)) throw RequestValidation.Invalid("CalendarWatch.InvalidResourceId", $"Channel '{request.ChannelId}' has no ResourceId. Give the ResourceId that the watch returned; without it Google cannot stop the channel.", request.CalendarId, request.ChannelId);
            var method = ApiMethod.ChannelsStop;
            var subject = _connection.SubjectFor(request.Subject);
            var json = WireJson.Write(new StopWire { Id = request.ChannelId, ResourceId = request.ResourceId, Token = string.IsNullOrEmpty(request.Token) ? null : request.Token });
            var call = new RetryCall(method.Operation, request.CalendarId, request.ChannelId, onRetry);
            try
            {
                using var response = await SendAsync(method, method.PathFor(null), json, subject, call, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarApiException ex) when (ex.StatusCode == 404)
            {
                throw ChannelNotFound(request, subject, ex);
            }
        }

        /// <summary>
        /// The resourceId of <paramref name="resource"/> on <paramref name="calendarId"/> as <paramref name="subject"/>
        /// sees it, learned from a probe: a watch of 5 minutes to <paramref name="address"/> that is stopped at once.
        /// Google's resourceId names the watched resource, not the channel, so it stops any channel on that resource —
        /// the way to stop a channel whose watch answer was lost. A probe that cannot be stopped fails as
        /// ChannelMayExist naming the probe (it expires within 5 minutes).
        /// </summary>
        public async Task<string> ProbeResourceIdAsync(WatchResource resource, string calendarId, string? subject, Uri address, Action<RetryNotice>? onRetry, CancellationToken cancellationToken = default)
        {
            var probe = new WatchRequest
            {
                Resource = resource,
                CalendarId = calendarId,
                ChannelId = "calendarwatch-probe-" + Guid.NewGuid().ToString("N"),
                ChannelIdGenerated = true,
                Address = address,
                Subject = subject,
                TimeToLive = ProbeLifetime,
            };
            var channel = await WatchAsync(probe, onRetry, cancellationToken).ConfigureAwait(false);
            try
            {
                await StopChannelAsync(new StopChannelRequest { ChannelId = channel.Id, ResourceId = channel.ResourceId, Subject = subject, CalendarId = channel.CalendarId, Expiration = channel.Expiration }, onRetry, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is CalendarWatchException || ex is OperationCanceledException)
            {
                throw new CalendarWatchException("CalendarWatch.ChannelMayExist", FailureKind.ResourceExists,
                    $"The probe channel '{channel.Id}' (resource id '{channel.ResourceId}', expiring {channel.Expiration?.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture) ?? "within 5 minutes"}) on calendar '{channel.CalendarId}' could not be stopped: {ex.Message} " +
                    $"It delivers to {address.AbsoluteUri} until it expires; stop it with Stop-CalendarChannel -Id {channel.Id} -ResourceId {channel.ResourceId}.", ex)
                {
                    Phase = FailurePhase.ApiRequest,
                    CalendarId = channel.CalendarId,
                    ChannelId = channel.Id,
                    Address = address.AbsoluteUri,
                    Subject = subject,
                };
            }

            return channel.ResourceId;
        }

        /// <summary>How long a probe watch may live if stopping it fails.</summary>
        public static readonly TimeSpan ProbeLifetime = TimeSpan.FromMinutes(5);

        private CalendarWatchException ChannelNotFound(StopChannelRequest request, string? subject, CalendarApiException ex)
        {
            var now = DateTimeOffset.UtcNow;
            var reasons = new List<string>();
            if (request.Expiration is DateTimeOffset expiration && expiration <= now)
            {
                reasons.Add($"it expired at {expiration.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)} (most likely)");
            }

            reasons.Add("it was already stopped");
            if (request.Expiration is null || request.Expiration > now)
            {
                reasons.Add("it expired");
            }

            reasons.Add($"the resource id '{request.ResourceId}' is not the channel's");
            var acting = subject ?? _connection.Account ?? "this connection's identity";
            var madeBy = request.Account is null ? null : request.Account + (request.Subject is null ? string.Empty : " acting as " + request.Subject);
            reasons.Add(madeBy is null
                ? $"it was made by another identity or OAuth client than {acting} (a user's channel can be stopped only by that user through the same client)"
                : $"it was made by {madeBy} and this connection acts as {acting} through another client (a user's channel can be stopped only by that user through the same client)");
            return new CalendarWatchException("CalendarWatch.ChannelNotFound", FailureKind.ObjectNotFound,
                $"Google does not know channel '{request.ChannelId}' (resource id '{request.ResourceId}'): " + string.Join("; or ", reasons) + ". Nothing was stopped. (Google: " + ex.ApiMessage + ")", ex)
            {
                Phase = FailurePhase.ApiRequest,
                CalendarId = request.CalendarId,
                ChannelId = request.ChannelId,
                Subject = subject,
            };
        }

        /// <summary>Checks a request before anything is sent; the message names the value and the fix.</summary>
        public static void Validate(WatchRequest request, bool allowHttpAddresses)
        {
            RequestValidation.ValidateInput(request, DateTimeOffset.UtcNow);
            RequestValidation.ValidateAddressScheme(request.Address!, allowHttpAddresses, request.CalendarId, request.ChannelId);
        }

        private static CalendarWatchException ChannelMayExist(WatchRequest request, string calendarId, string address, string? subject, string why, Exception? inner, FailureKind kind = FailureKind.ResourceExists) =>
            new CalendarWatchException("CalendarWatch.ChannelMayExist", kind,
                $"Channel '{request.ChannelId}' on calendar '{calendarId}' (address {address}) may exist: {why}. " +
                "Do not create another for the same calendar and address yet: Google sends the channel's notifications to that address with X-Goog-Channel-ID set to this id; " +
                "stop it with the X-Goog-Resource-ID from one of them, or let it expire.", inner)
            {
                Phase = FailurePhase.ApiRequest,
                CalendarId = calendarId,
                ChannelId = request.ChannelId,
                Address = address,
                Subject = subject,
            };

        /// <summary>
        /// One call of <paramref name="method"/> under the connection's retry policy and the identity's rate-limit gate,
        /// each attempt as <see cref="SendOnceAsync"/>. Every failure comes out as a <see cref="CalendarWatchException"/>
        /// naming the calendar, channel and subject; insufficientPermissions names the scopes the method accepts.
        /// </summary>
        private async Task<HttpResponseMessage> SendAsync(ApiMethod method, string relativePath, string json, string? subject, RetryCall call, CancellationToken cancellationToken)
        {
            var scopes = _connection.ScopesFor(method.Narrowest);
            var pacer = _connection.PacerFor(subject);
            var project = _connection.ProjectPacer;
            call.Pacer = pacer;
            try
            {
                return await _connection.Policy.ExecuteAsync(
                    async ct =>
                    {
                        // The user's pacer first: a slot of the project's budget is not held while the user's is full.
                        var slot = await pacer.WaitAsync(ct).ConfigureAwait(false);
                        PacerSlot projectSlot;
                        try
                        {
                            projectSlot = await project.WaitAsync(ct).ConfigureAwait(false);
                        }
                        catch
                        {
                            pacer.Completed(slot);
                            throw;
                        }

                        var attempt = ++call.Attempts;
                        try
                        {
                            var response = await SendOnceAsync(method, relativePath, json, subject, scopes, attempt, ct).ConfigureAwait(false);
                            project.Completed(projectSlot);
                            pacer.Completed(slot);
                            return response;
                        }
                        catch (CalendarApiException ex) when (ex.IsRateLimit)
                        {
                            // Each limit is learned by the pacer it belongs to; the other one counts the attempt as sent.
                            if (ex.IsProjectRateLimit)
                            {
                                call.PacerDelay = project.Refused(projectSlot, ex.RetryAfter);
                                pacer.Completed(slot);
                            }
                            else
                            {
                                call.PacerDelay = pacer.Refused(slot, ex.RetryAfter);
                                project.Completed(projectSlot);
                            }

                            throw;
                        }
                        catch
                        {
                            project.Completed(projectSlot);
                            pacer.Completed(slot);
                            throw;
                        }
                    },
                    call,
                    cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex)
            {
                var failure = ex is CalendarApiException { Reason: "insufficientPermissions" } api
                    ? Auth.AuthErrors.InsufficientPermissions(api, method.Id, scopes, method.Accepted)
                    : ex;
                failure.CalendarId ??= call.CalendarId;
                failure.ChannelId ??= call.ChannelId;
                failure.Subject ??= subject;
                throw failure;
            }
        }

        /// <summary>
        /// One attempt: the request with a bearer token for (subject, scopes). A 401 drops the cached token and tries
        /// once more. Returns only success responses; anything else becomes a <see cref="CalendarWatchException"/>
        /// whose phase says whether the API request was sent.
        /// </summary>
        private async Task<HttpResponseMessage> SendOnceAsync(ApiMethod method, string relativePath, string json, string? subject, IReadOnlyList<string> scopes, int callAttempt, CancellationToken cancellationToken)
        {
            var uri = new Uri(_connection.ApiEndpoint, relativePath);
            string? refused = null;
            for (var attempt = 0; ; attempt++)
            {
                // Fail fast: an endpoint found unreachable several times in a row fails the rest at once, unsent.
                _connection.ApiHealth.ThrowIfDown();
                _connection.TokenHealth.ThrowIfDown();
                string? token;
                try
                {
                    token = await _connection.TokenSource.GetAccessTokenAsync(subject, scopes, refused, cancellationToken).ConfigureAwait(false);
                }
                catch (CalendarWatchException ex) when (ex.Kind != FailureKind.InvalidArgument)
                {
                    ex.Phase = FailurePhase.TokenEndpoint;
                    if (_connection.TokenHealth.Failed(ex)) _connection.TokenHealth.ThrowIfDown();
                    throw;
                }

                _connection.TokenHealth.Reached();

                using var message = new HttpRequestMessage(method.Verb, uri) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
                if (token != null)
                {
                    message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                }

                HttpResponseMessage response;
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    timeout.CancelAfter(_connection.RequestTimeout);
                    var start = HttpTrace.IsOn ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                    try
                    {
                        response = await _connection.Http.SendAsync(message, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex)
                    {
                        HttpTrace.Report("API", method.Verb, uri, null, ex, start, callAttempt);
                        if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                        {
                            throw Failures.ApiTimeout(ex, uri, _connection.RequestTimeout);
                        }

                        if (Failures.IsTransportFailure(ex))
                        {
                            if (_connection.ApiHealth.Failed(ex)) _connection.ApiHealth.ThrowIfDown();
                            throw Failures.ApiConnectionFailed(ex, _connection.ApiEndpoint);
                        }

                        throw;
                    }

                    HttpTrace.Report("API", method.Verb, uri, (int)response.StatusCode, null, start, callAttempt);
                }

                _connection.ApiHealth.Reached();

                if ((int)response.StatusCode == 407)
                {
                    // The proxy refused to forward the request: nothing reached Google.
                    response.Dispose();
                    throw new CalendarWatchException("CalendarWatch.ProxyAuthenticationRequired", FailureKind.AuthenticationError,
                        ProxySettings.RefusalMessage(_connection.Proxy, _connection.ApiEndpoint.AbsoluteUri));
                }

                if (response.IsSuccessStatusCode)
                {
                    return response;
                }

                using (response)
                {
                    var error = await ToExceptionAsync(response).ConfigureAwait(false);
                    // A 401 for a token we sent: the token may have expired early. Refresh it once and try once more
                    // (not for Google's "Unauthorized WebHook callback channel", which no token fixes).
                    if (error.StatusCode == 401 && attempt == 0 && token != null && !error.IsWebHookRefusal)
                    {
                        refused = token;
                        continue;
                    }

                    if (error.StatusCode == 401 && token is null && _connection.Kind == ConnectionKind.Emulator)
                    {
                        throw Auth.AuthErrors.EmulatorRequiresAuth(_connection.ApiEndpoint, error);
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
                body = text.Length > 0 ? WireJson.ReadError(text) : null;
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
                "channelIdNotUnique" => "The channel id was used before in this Google Cloud project (even a stopped channel's id cannot be reused), and a channel with this id may still be live. Look it up in your records (its calendar, address and expiration) before creating another: if it is live for this calendar and address you need no new one; otherwise give an id never used before.",
                "pushInvalidTtl" => "Google refused the lifetime asked for: channels live at most about 30 days. Give -TimeToLive (New-TimeSpan -Days 30) or less, or an -ExpiresAt in the future and within 30 days.",
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
