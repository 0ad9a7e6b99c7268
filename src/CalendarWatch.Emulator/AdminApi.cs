using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;

namespace CalendarWatch.Emulator
{
    /// <summary>The /emulator/v1/ surface: JSON, no auth. Errors use Google's envelope with reason "invalid".</summary>
    internal sealed class AdminApi
    {
        private readonly CalendarEmulator _emulator;

        public AdminApi(CalendarEmulator emulator) { _emulator = emulator; }

        public async Task HandleAsync(HttpListenerContext context, string[] s)
        {
            // s: the decoded segments after "emulator/v1".
            var verb = context.Request.HttpMethod;
            var name = s.Length == 1 ? s[0] : "";
            var response = context.Response;
            // Connection: close. The managed HttpListener (Linux, macOS) waits 15 s for the next request on a kept-alive
            // connection from the moment a response is handed to the socket, then closes it abortively: a client still
            // reading a large answer (channels, deliveries) on a busy machine lost the rest to a reset. Closing after the
            // answer lets the socket deliver it all first. The admin surface is for inspection, not throughput.
            response.KeepAlive = false;
            try
            {
                var body = await HttpUtil.ReadJsonBodyAsync(context).ConfigureAwait(false);
                JsonNode result;
                switch (verb + " " + name)
                {
                    case "POST calendars":
                    {
                        var o = Parse(body);
                        var id = Str(o, "id") ?? throw GoogleErrors.Required("id");
                        var owner = Str(o, "owner") ?? throw GoogleErrors.Required("owner");
                        var watchable = o["watchable"] is JsonValue w && w.TryGetValue(out bool b) ? b : true;
                        _emulator.CreateCalendar(id, owner, watchable);
                        result = new JsonObject { ["id"] = id, ["owner"] = owner, ["watchable"] = watchable };
                        await HttpUtil.WriteJsonAsync(context, 201, result).ConfigureAwait(false);
                        return;
                    }
                    case "POST serviceAccounts":
                    {
                        var o = Parse(body);
                        var email = Str(o, "clientEmail") ?? throw GoogleErrors.Required("clientEmail");
                        var pem = Str(o, "publicKeyPem") ?? throw GoogleErrors.Required("publicKeyPem");
                        var subjects = StrArray(o, "subjects") ?? new List<string>();
                        var scopes = StrArray(o, "scopes");
                        var clientId = Str(o, "clientId");
                        _emulator.RegisterServiceAccount(email, pem, subjects, scopes, clientId);
                        result = new JsonObject { ["clientEmail"] = email, ["clientId"] = clientId ?? email };
                        await HttpUtil.WriteJsonAsync(context, 201, result).ConfigureAwait(false);
                        return;
                    }
                    case "POST users":
                    {
                        var o = Parse(body);
                        var email = Str(o, "email") ?? throw GoogleErrors.Required("email");
                        _emulator.RegisterUser(email, Str(o, "clientId") ?? throw GoogleErrors.Required("clientId"),
                            Str(o, "clientSecret") ?? throw GoogleErrors.Required("clientSecret"),
                            Str(o, "refreshToken") ?? throw GoogleErrors.Required("refreshToken"));
                        await HttpUtil.WriteJsonAsync(context, 201, new JsonObject { ["email"] = email }).ConfigureAwait(false);
                        return;
                    }
                    case "POST sink":
                        // A receiver that takes every notification (channels pointed at BaseUri + "emulator/v1/sink"): the
                        // deliveries list then shows them delivered, for scripts and demos that run no receiver of their own.
                        await HttpUtil.WriteJsonAsync(context, 200, new JsonObject()).ConfigureAwait(false);
                        return;
                    case "GET channels":
                        result = new JsonArray(_emulator.Channels.Select(c => (JsonNode)ChannelJson(c)).ToArray());
                        break;
                    case "GET deliveries":
                        result = new JsonArray(_emulator.Deliveries.Select(d => (JsonNode)DeliveryJson(d)).ToArray());
                        break;
                    case "GET stats":
                        result = StatsJson(_emulator.Stats);
                        break;
                    case "GET faults":
                        result = FaultsToJson(_emulator.Faults);
                        break;
                    case "PUT faults":
                        _emulator.SetFaults(FaultsFromJson(Parse(body)));
                        result = FaultsToJson(_emulator.Faults);
                        break;
                    case "GET clock":
                        result = ClockJson();
                        break;
                    case "PUT clock":
                    {
                        var o = Parse(body);
                        if (Str(o, "now") is string now)
                        {
                            if (!DateTimeOffset.TryParse(now, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t))
                                throw GoogleErrors.Invalid("Invalid value for now: expected an ISO-8601 time.", "now");
                            if (t < CalendarEmulator.MinClock || t > CalendarEmulator.MaxClock)
                                throw GoogleErrors.Invalid("Invalid value for now: " + HttpUtil.Clip(now) + " is outside the allowed range "
                                    + EmulatorState.ClockRange + ".", "now");
                            _emulator.SetClock(t);
                        }
                        else if (Num(o, "advanceSeconds") is double seconds)
                        {
                            var (back, forward) = _emulator.ClockLeeway();
                            if (double.IsNaN(seconds) || seconds < back || seconds > forward)
                                throw GoogleErrors.Invalid("Invalid value for advanceSeconds: " + Show(seconds) + " would move the clock out of its range "
                                    + EmulatorState.ClockRange + " (from now: " + Show(Math.Ceiling(back)) + " to " + Show(Math.Floor(forward)) + " seconds).",
                                    "advanceSeconds");
                            _emulator.AdvanceClock(TimeSpan.FromSeconds(seconds));
                        }
                        else throw GoogleErrors.Required("now or advanceSeconds");
                        result = ClockJson();
                        break;
                    }
                    case "POST reset":
                        _emulator.Reset();
                        await HttpUtil.WriteEmptyAsync(context, 204).ConfigureAwait(false);
                        return;
                    default:
                        throw GoogleErrors.NotFound();
                }
                await HttpUtil.WriteJsonAsync(context, 200, result).ConfigureAwait(false);
            }
            catch (GoogleApiException e)
            {
                await HttpUtil.WriteJsonAsync(context, e.Code, e.ToEnvelope()).ConfigureAwait(false);
            }
            catch (BodyTooLargeException e)
            {
                await HttpUtil.WriteJsonAsync(context, 413, GoogleErrors.PayloadTooLarge(e.Limit).ToEnvelope()).ConfigureAwait(false);
            }
            catch (ArgumentException e)
            {
                await HttpUtil.WriteJsonAsync(context, 400, GoogleErrors.Invalid(HttpUtil.Clip(e.Message)).ToEnvelope()).ConfigureAwait(false);
            }
        }

        private JsonObject ClockJson() => new JsonObject { ["now"] = Iso(_emulator.Now) };

        private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

        private static JsonObject Parse(string body)
        {
            try
            {
                return JsonNode.Parse(string.IsNullOrWhiteSpace(body) ? "{}" : body) as JsonObject ?? throw GoogleErrors.ParseError();
            }
            catch (JsonException) { throw GoogleErrors.ParseError(); }
        }

        private static string? Str(JsonObject o, string name) => o[name] is JsonValue v && v.TryGetValue(out string? s) ? s : null;

        private static List<string>? StrArray(JsonObject o, string name)
        {
            if (o[name] == null) return null;
            if (!(o[name] is JsonArray a)) throw GoogleErrors.Invalid(name + " must be an array of strings.", name);
            return a.Select(n => n is JsonValue v && v.TryGetValue(out string? s) && s != null ? s : throw GoogleErrors.Invalid(name + " must be an array of strings.", name)).ToList();
        }

        internal static JsonObject ChannelJson(EmulatedChannel c)
        {
            return new JsonObject
            {
                ["id"] = c.Id,
                ["resourceId"] = c.ResourceId,
                ["resourceUri"] = c.ResourceUri,
                ["calendarId"] = c.CalendarId,
                ["resource"] = c.Resource,
                ["address"] = c.Address,
                ["token"] = c.Token,
                ["expiration"] = Iso(c.Expiration),
                ["expirationMs"] = HttpUtil.ToUnixMsString(c.Expiration),
                ["state"] = c.State,
                ["owner"] = c.Owner,
                ["clientId"] = c.ClientId,
                ["eventTypes"] = new JsonArray(c.EventTypes.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
                ["createdAt"] = Iso(c.CreatedAt),
            };
        }

        internal static JsonObject DeliveryJson(EmulatedDelivery d)
        {
            var headers = new JsonObject();
            foreach (var h in d.Headers) headers[h.Key] = h.Value;
            return new JsonObject
            {
                ["channelId"] = d.ChannelId,
                ["address"] = d.Address,
                ["messageNumber"] = d.MessageNumber,
                ["resourceState"] = d.ResourceState,
                ["headers"] = headers,
                ["statusCode"] = d.StatusCode,
                ["outcome"] = d.Outcome,
                ["attempts"] = d.Attempts,
                ["createdAt"] = Iso(d.CreatedAt),
            };
        }

        private static JsonObject StatsJson(EmulatorStats stats)
        {
            var methods = new JsonObject();
            foreach (var p in stats.RequestsByMethod.OrderBy(p => p.Key, StringComparer.Ordinal)) methods[p.Key] = p.Value;
            var clients = new JsonObject();
            foreach (var p in stats.TokenRequestsByClient.OrderBy(p => p.Key, StringComparer.Ordinal)) clients[p.Key] = p.Value;
            var bySubject = new JsonObject();
            foreach (var p in stats.TokenRequestsByClientAndSubject.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                var inner = new JsonObject();
                foreach (var q in p.Value.OrderBy(q => q.Key, StringComparer.Ordinal)) inner[q.Key] = q.Value;
                bySubject[p.Key] = inner;
            }
            return new JsonObject
            {
                ["requestsByMethod"] = methods,
                ["tokenRequestsByClient"] = clients,
                ["tokenRequestsByClientAndSubject"] = bySubject,
                ["deliveryAttempts"] = stats.DeliveryAttempts,
            };
        }

        internal static JsonObject FaultsToJson(EmulatorFaults f) => new JsonObject
        {
            ["error500Rate"] = f.Error500Rate,
            ["error503Rate"] = f.Error503Rate,
            ["connectionResetRate"] = f.ConnectionResetRate,
            ["responseLostRate"] = f.ResponseLostRate,
            ["error429Rate"] = f.Error429Rate,
            ["latencyMs"] = (long)f.Latency.TotalMilliseconds,
            ["userRateLimit"] = f.UserRateLimit,
            ["projectRateLimit"] = f.ProjectRateLimit,
            ["rateLimitWindowSeconds"] = f.RateLimitWindow.TotalSeconds,
            ["userRateLimitStatus"] = f.UserRateLimitStatus,
            ["retryAfterSeconds"] = f.RetryAfterSeconds,
            ["seed"] = f.Seed,
        };

        /// <summary>
        /// Every field is optional; a missing field takes its default (PUT replaces the whole set).
        /// Durations: "latencyMs" / "rateLimitWindowSeconds" numbers, or "latency" / "rateLimitWindow" as "hh:mm:ss" strings.
        /// A value out of its range is a 400 that names the field and the range, before anything changes.
        /// </summary>
        internal static EmulatorFaults FaultsFromJson(JsonObject o)
        {
            const string AnyInt = "-2147483648 to 2147483647";
            const string Count = "0 to 2147483647";
            var f = new EmulatorFaults
            {
                Error500Rate = Ranged(o, "error500Rate", 0, 1, false, "0 to 1") ?? 0,
                Error503Rate = Ranged(o, "error503Rate", 0, 1, false, "0 to 1") ?? 0,
                ConnectionResetRate = Ranged(o, "connectionResetRate", 0, 1, false, "0 to 1") ?? 0,
                ResponseLostRate = Ranged(o, "responseLostRate", 0, 1, false, "0 to 1") ?? 0,
                Error429Rate = Ranged(o, "error429Rate", 0, 1, false, "0 to 1") ?? 0,
                UserRateLimit = (int?)Ranged(o, "userRateLimit", 0, int.MaxValue, true, Count),
                ProjectRateLimit = (int?)Ranged(o, "projectRateLimit", 0, int.MaxValue, true, Count),
                RetryAfterSeconds = (int)(Ranged(o, "retryAfterSeconds", 0, EmulatorFaults.MaxRetryAfterSeconds, true, "0 to " + EmulatorFaults.MaxRetryAfterSeconds) ?? 1),
                Seed = (int?)Ranged(o, "seed", int.MinValue, int.MaxValue, true, AnyInt),
            };
            var status = Str(o, "userRateLimitStatus") ?? (Num(o, "userRateLimitStatus") is double st ? Show(st) : "403");
            if (status != "403" && status != "429")
                throw GoogleErrors.Invalid("Invalid value for userRateLimitStatus: \"" + HttpUtil.Clip(status) + "\"; allowed: \"403\" or \"429\".", "userRateLimitStatus");
            f.UserRateLimitStatus = status;

            var maxLatency = EmulatorFaults.MaxLatency;
            if (Ranged(o, "latencyMs", 0, maxLatency.TotalMilliseconds, false, "0 to " + Show(maxLatency.TotalMilliseconds)) is double ms)
                f.Latency = TimeSpan.FromMilliseconds(ms);
            else if (Str(o, "latency") is string l)
                f.Latency = RangedSpan(ParseSpan(l, "latency"), l, "latency", false, maxLatency);

            var maxWindow = EmulatorFaults.MaxRateLimitWindow;
            if (Num(o, "rateLimitWindowSeconds") is double ws)
            {
                if (double.IsNaN(ws) || ws <= 0 || ws > maxWindow.TotalSeconds)
                    throw OutOfRange("rateLimitWindowSeconds", Show(ws), "0 (exclusive) to " + Show(maxWindow.TotalSeconds));
                f.RateLimitWindow = TimeSpan.FromSeconds(ws);
            }
            else if (Str(o, "rateLimitWindow") is string w)
                f.RateLimitWindow = RangedSpan(ParseSpan(w, "rateLimitWindow"), w, "rateLimitWindow", true, maxWindow);
            return f;
        }

        /// <summary>The number at <paramref name="name"/>, or null; a 400 naming the field and range when outside min..max (or not whole).</summary>
        private static double? Ranged(JsonObject o, string name, double min, double max, bool whole, string range)
        {
            if (!(Num(o, name) is double d)) return null;
            if (double.IsNaN(d) || d < min || d > max || (whole && Math.Floor(d) != d))
                throw OutOfRange(name, Show(d), (whole ? "a whole number " : "") + range);
            return d;
        }

        private static TimeSpan RangedSpan(TimeSpan span, string text, string name, bool exclusiveZero, TimeSpan max)
        {
            if (span < TimeSpan.Zero || (exclusiveZero && span == TimeSpan.Zero) || span > max)
                throw OutOfRange(name, "\"" + HttpUtil.Clip(text) + "\"",
                    "00:00:00" + (exclusiveZero ? " (exclusive)" : "") + " to " + max.ToString("c", CultureInfo.InvariantCulture));
            return span;
        }

        private static GoogleApiException OutOfRange(string name, string shown, string range) =>
            GoogleErrors.Invalid("Invalid value for " + name + ": " + shown + " is outside the allowed range " + range + ".", name);

        private static string Show(double d) => d.ToString("R", CultureInfo.InvariantCulture);

        private static TimeSpan ParseSpan(string text, string name) =>
            TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) ? span : throw GoogleErrors.Invalid("Invalid value for " + name + ": expected hh:mm:ss.", name);

        private static double? Num(JsonObject o, string name)
        {
            var node = o[name];
            if (node == null) return null;
            if (node is JsonValue v && v.TryGetValue(out double d)) return d;
            throw GoogleErrors.Invalid("Invalid value for " + name + ": expected a number.", name);
        }
    }
}
