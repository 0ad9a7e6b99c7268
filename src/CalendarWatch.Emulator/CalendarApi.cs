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
    /// <summary>The /calendar/v3/ surface: watches, channels.stop, and enough of events and acl to fire notifications.</summary>
    internal sealed class CalendarApi
    {
        private const string Auth = "https://www.googleapis.com/auth/";
        private const string GoogleBase = "https://www.googleapis.com/calendar/v3/";
        private static readonly TimeSpan DefaultTtl = TimeSpan.FromSeconds(604800);

        /// <summary>The eventTypes enum of events.watch in the discovery document.</summary>
        public static readonly string[] EventTypes = { "birthday", "default", "focusTime", "fromGmail", "outOfOffice", "workingLocation" };

        private static readonly string[] StandardParameters = { "alt", "fields", "key", "oauth_token", "prettyPrint", "quotaUser", "userIp" };

        private sealed class MethodInfo
        {
            public MethodInfo(string[] scopes, string[] parameters) { Scopes = scopes.Select(s => Auth + s).ToArray(); Parameters = parameters; }
            public string[] Scopes { get; }
            public string[] Parameters { get; }
        }

        // Scopes and query parameters per method, from calendar.v3.discovery.json (revision 20251028).
        private static readonly Dictionary<string, MethodInfo> Methods = new Dictionary<string, MethodInfo>(StringComparer.Ordinal)
        {
            ["calendar.events.watch"] = new MethodInfo(
                new[] { "calendar", "calendar.app.created", "calendar.events", "calendar.events.freebusy", "calendar.events.owned", "calendar.events.owned.readonly", "calendar.events.public.readonly", "calendar.events.readonly", "calendar.readonly" },
                new[] { "alwaysIncludeEmail", "eventTypes", "iCalUID", "maxAttendees", "maxResults", "orderBy", "pageToken", "privateExtendedProperty", "q", "sharedExtendedProperty", "showDeleted", "showHiddenInvitations", "singleEvents", "syncToken", "timeMax", "timeMin", "timeZone", "updatedMin" }),
            ["calendar.acl.watch"] = new MethodInfo(
                new[] { "calendar", "calendar.acls", "calendar.acls.readonly" },
                new[] { "maxResults", "pageToken", "showDeleted", "syncToken" }),
            ["calendar.calendarList.watch"] = new MethodInfo(
                new[] { "calendar", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.readonly" },
                new[] { "maxResults", "minAccessRole", "pageToken", "showDeleted", "showHidden", "syncToken" }),
            ["calendar.settings.watch"] = new MethodInfo(
                new[] { "calendar", "calendar.readonly", "calendar.settings.readonly" },
                new[] { "maxResults", "pageToken", "syncToken" }),
            ["calendar.channels.stop"] = new MethodInfo(
                new[] { "calendar", "calendar.acls", "calendar.acls.readonly", "calendar.app.created", "calendar.calendarlist", "calendar.calendarlist.readonly", "calendar.events", "calendar.events.freebusy", "calendar.events.owned", "calendar.events.owned.readonly", "calendar.events.public.readonly", "calendar.events.readonly", "calendar.readonly", "calendar.settings.readonly" },
                new string[0]),
            ["calendar.events.insert"] = new MethodInfo(
                new[] { "calendar", "calendar.app.created", "calendar.events", "calendar.events.owned" },
                new[] { "conferenceDataVersion", "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments" }),
            ["calendar.events.patch"] = new MethodInfo(
                new[] { "calendar", "calendar.app.created", "calendar.events", "calendar.events.owned" },
                new[] { "alwaysIncludeEmail", "conferenceDataVersion", "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments" }),
            ["calendar.events.delete"] = new MethodInfo(
                new[] { "calendar", "calendar.app.created", "calendar.events", "calendar.events.owned" },
                new[] { "sendNotifications", "sendUpdates" }),
            ["calendar.acl.insert"] = new MethodInfo(new[] { "calendar", "calendar.acls" }, new[] { "sendNotifications" }),
            ["calendar.acl.delete"] = new MethodInfo(new[] { "calendar", "calendar.acls" }, new string[0]),
        };

        private readonly EmulatorState _state;
        private readonly EmulatorOptions _options;
        private readonly NotificationDispatcher _dispatcher;

        public CalendarApi(EmulatorState state, EmulatorOptions options, NotificationDispatcher dispatcher)
        { _state = state; _options = options; _dispatcher = dispatcher; }

        private sealed class Route
        {
            public Route(string method, string? calendarId, string? itemId) { Method = method; CalendarId = calendarId; ItemId = itemId; }
            public string Method { get; }
            public string? CalendarId { get; }
            public string? ItemId { get; }
        }

        private static Route? Match(string verb, string[] s)
        {
            // s: the decoded segments after "calendar/v3".
            if (s.Length == 2 && s[0] == "channels" && s[1] == "stop" && verb == "POST") return new Route("calendar.channels.stop", null, null);
            if (s.Length == 4 && s[0] == "users" && s[1] == "me" && s[3] == "watch" && verb == "POST")
            {
                if (s[2] == "calendarList") return new Route("calendar.calendarList.watch", null, null);
                if (s[2] == "settings") return new Route("calendar.settings.watch", null, null);
            }
            if (s.Length >= 3 && s[0] == "calendars")
            {
                var cal = s[1];
                if (s[2] == "events")
                {
                    if (s.Length == 3 && verb == "POST") return new Route("calendar.events.insert", cal, null);
                    if (s.Length == 4 && s[3] == "watch" && verb == "POST") return new Route("calendar.events.watch", cal, null);
                    if (s.Length == 4 && verb == "PATCH") return new Route("calendar.events.patch", cal, s[3]);
                    if (s.Length == 4 && verb == "DELETE") return new Route("calendar.events.delete", cal, s[3]);
                }
                if (s[2] == "acl")
                {
                    if (s.Length == 3 && verb == "POST") return new Route("calendar.acl.insert", cal, null);
                    if (s.Length == 4 && s[3] == "watch" && verb == "POST") return new Route("calendar.acl.watch", cal, null);
                    if (s.Length == 4 && verb == "DELETE") return new Route("calendar.acl.delete", cal, s[3]);
                }
            }
            return null;
        }

        public async Task HandleAsync(HttpListenerContext context, string[] segments, string rawQuery)
        {
            var query = HttpUtil.ParseForm(rawQuery);
            bool pretty = !string.Equals(HttpUtil.First(query, "prettyPrint"), "false", StringComparison.OrdinalIgnoreCase);
            try
            {
                HttpUtil.CheckDeclaredLength(context); // before anything else, as a front end would
                var route = Match(context.Request.HttpMethod, segments);
                if (route == null) throw GoogleErrors.NotFound();
                _state.CountRequest(route.Method);
                var info = Methods[route.Method];

                EmulatorFaults faults;
                lock (_state.Gate) faults = _state.Faults;
                if (faults.Latency > TimeSpan.Zero) await Task.Delay(faults.Latency).ConfigureAwait(false);

                var caller = Authenticate(context.Request, query);
                if (caller.Scopes != null && !info.Scopes.Any(caller.Scopes.Contains)) throw GoogleErrors.InsufficientScopes();

                var limited = _state.CheckRateLimits(caller.Principal);
                if (limited != null) throw limited;

                if (_state.Roll(faults.ConnectionResetRate)) { HttpUtil.AbortConnection(context); return; }
                if (_state.Roll(faults.Error500Rate)) throw GoogleErrors.Backend500();
                if (_state.Roll(faults.Error503Rate)) throw GoogleErrors.Backend503();
                if (_state.Roll(faults.Error429Rate)) throw GoogleErrors.TooManyRequests(faults.RetryAfterSeconds);

                CheckParameters(query, info);
                var body = await HttpUtil.ReadJsonBodyAsync(context).ConfigureAwait(false);

                switch (route.Method)
                {
                    case "calendar.channels.stop":
                        Stop(caller, body);
                        await HttpUtil.WriteEmptyAsync(context, 204).ConfigureAwait(false);
                        return;
                    case "calendar.events.watch":
                    case "calendar.acl.watch":
                    case "calendar.calendarList.watch":
                    case "calendar.settings.watch":
                        var channel = Watch(route, caller, query, body);
                        if (route.Method.EndsWith(".watch", StringComparison.Ordinal) && _state.Roll(faults.ResponseLostRate))
                        {
                            HttpUtil.AbortConnection(context); // the channel exists; the caller never learns it
                            return;
                        }
                        await HttpUtil.WriteJsonAsync(context, 200, channel, pretty).ConfigureAwait(false);
                        return;
                    case "calendar.events.insert":
                        await HttpUtil.WriteJsonAsync(context, 200, InsertEvent(route, caller, body), pretty).ConfigureAwait(false);
                        return;
                    case "calendar.events.patch":
                        await HttpUtil.WriteJsonAsync(context, 200, PatchEvent(route, caller, body), pretty).ConfigureAwait(false);
                        return;
                    case "calendar.events.delete":
                        DeleteEvent(route, caller);
                        await HttpUtil.WriteEmptyAsync(context, 204).ConfigureAwait(false);
                        return;
                    case "calendar.acl.insert":
                        await HttpUtil.WriteJsonAsync(context, 200, InsertAcl(route, caller, body), pretty).ConfigureAwait(false);
                        return;
                    case "calendar.acl.delete":
                        DeleteAcl(route, caller);
                        await HttpUtil.WriteEmptyAsync(context, 204).ConfigureAwait(false);
                        return;
                    default:
                        throw GoogleErrors.NotFound();
                }
            }
            catch (GoogleApiException e)
            {
                await HttpUtil.WriteJsonAsync(context, e.Code, e.ToEnvelope(), pretty, e.Headers).ConfigureAwait(false);
            }
            catch (BodyTooLargeException e)
            {
                await HttpUtil.WriteJsonAsync(context, 413, GoogleErrors.PayloadTooLarge(e.Limit).ToEnvelope(), pretty).ConfigureAwait(false);
            }
        }

        private Caller Authenticate(HttpListenerRequest request, Dictionary<string, List<string>> query)
        {
            if (_options.NoAuth) return new Caller(EmulatorOptions.NoAuthPrincipal, null, "emulator-no-auth", false, null);
            string? token = null;
            var header = request.Headers["Authorization"];
            if (!string.IsNullOrEmpty(header))
            {
                if (!header!.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) throw GoogleErrors.AuthError();
                token = header.Substring(7).Trim();
            }
            else token = HttpUtil.First(query, "oauth_token");
            if (string.IsNullOrEmpty(token)) throw GoogleErrors.LoginRequired();
            lock (_state.Gate)
            {
                if (!_state.AccessTokens.TryGetValue(token!, out var record) || record.Expires <= _state.Now) throw GoogleErrors.AuthError();
                return record.Caller;
            }
        }

        private static void CheckParameters(Dictionary<string, List<string>> query, MethodInfo info)
        {
            foreach (var name in query.Keys)
            {
                if (StandardParameters.Contains(name) || info.Parameters.Contains(name)) continue;
                throw GoogleErrors.Invalid("Invalid parameter: " + HttpUtil.Clip(name) + " is not a parameter of this method.", HttpUtil.Clip(name));
            }
            var alt = HttpUtil.First(query, "alt");
            if (alt != null && alt != "json") throw GoogleErrors.Invalid("Invalid value '" + HttpUtil.Clip(alt) + "'. Values must match the following regular expression: 'json'", "alt");
            var pretty = HttpUtil.First(query, "prettyPrint");
            if (pretty != null && !string.Equals(pretty, "true", StringComparison.OrdinalIgnoreCase) && !string.Equals(pretty, "false", StringComparison.OrdinalIgnoreCase))
                throw GoogleErrors.Invalid("Invalid value '" + HttpUtil.Clip(pretty) + "' for prettyPrint: must be true or false.", "prettyPrint");
        }

        private static JsonObject ParseObject(string body, bool allowEmpty)
        {
            if (string.IsNullOrWhiteSpace(body))
            {
                if (allowEmpty) return new JsonObject();
                throw GoogleErrors.ParseError();
            }
            try
            {
                return JsonNode.Parse(body) as JsonObject ?? throw GoogleErrors.ParseError();
            }
            catch (JsonException) { throw GoogleErrors.ParseError(); }
        }

        private static string? OptionalString(JsonObject body, string name)
        {
            var node = body[name];
            if (node == null) return null;
            if (node is JsonValue v && v.TryGetValue(out string? s)) return s;
            throw GoogleErrors.Invalid("Invalid value for " + name + ": expected a string.", name);
        }

        /// <summary>Resolves "primary" to the caller and checks the id, visibility and watchability.</summary>
        private CalendarRecord ResolveCalendar(string rawId, Caller caller, bool forWatch)
        {
            var id = rawId == "primary" ? caller.Principal : rawId;
            if (forWatch && EmulatorState.IsUnwatchableId(id)) throw GoogleErrors.PushNotSupported();
            if (!_state.Calendars.TryGetValue(id, out var cal) || !EmulatorState.CanSee(cal, caller.Principal)) throw GoogleErrors.NotFound();
            if (forWatch && !cal.Watchable) throw GoogleErrors.PushNotSupported();
            return cal;
        }

        private JsonObject Watch(Route route, Caller caller, Dictionary<string, List<string>> query, string bodyText)
        {
            var resource = route.Method.Split('.')[1];
            string[] eventTypes = Array.Empty<string>();
            if (resource == "events" && query.TryGetValue("eventTypes", out var types))
            {
                foreach (var t in types)
                    if (!EventTypes.Contains(t, StringComparer.Ordinal))
                        throw GoogleErrors.Invalid("Invalid value '" + HttpUtil.Clip(t) + "' for eventTypes. Allowed values: " + string.Join(", ", EventTypes) + ".", "eventTypes");
                eventTypes = types.Distinct(StringComparer.Ordinal).ToArray();
            }

            var body = ParseObject(bodyText, allowEmpty: false);
            var id = OptionalString(body, "id");
            if (string.IsNullOrEmpty(id)) throw GoogleErrors.Required("id");
            if (id!.Length > 64) throw GoogleErrors.Invalid("Invalid channel id: at most 64 characters are allowed.", "id");
            var type = OptionalString(body, "type");
            if (string.IsNullOrEmpty(type)) throw GoogleErrors.Required("type");
            if (!string.Equals(type, "web_hook", StringComparison.OrdinalIgnoreCase) && !string.Equals(type, "webhook", StringComparison.OrdinalIgnoreCase))
                throw GoogleErrors.Invalid("Invalid channel type: " + HttpUtil.Clip(type) + ". Supported: web_hook.", "type");
            var address = OptionalString(body, "address");
            if (string.IsNullOrEmpty(address)) throw GoogleErrors.Required("address");
            if (!Uri.TryCreate(address, UriKind.Absolute, out var addressUri) ||
                !(addressUri.Scheme == Uri.UriSchemeHttps || (addressUri.Scheme == Uri.UriSchemeHttp && _options.AllowHttp)))
                throw GoogleErrors.Invalid("WebHook callback must be HTTPS: " + HttpUtil.Clip(address), "address");
            var token = OptionalString(body, "token");
            if (token != null && token.Length > 256) throw GoogleErrors.Invalid("Invalid channel token: at most 256 characters are allowed.", "token");

            var now = _state.Now;
            DateTimeOffset? byExpiration = null, byTtl = null;
            if (body["expiration"] != null)
            {
                var ms = ReadInt64(body["expiration"]);
                if (ms == null || ms.Value < 0 || ms.Value > 253402300799999) throw GoogleErrors.PushInvalidTtl();
                byExpiration = DateTimeOffset.FromUnixTimeMilliseconds(ms.Value);
                if (byExpiration <= now) throw GoogleErrors.PushInvalidTtl();
            }
            var parameters = body["params"];
            if (parameters != null && !(parameters is JsonObject)) throw GoogleErrors.Invalid("Invalid value for params: expected an object.", "params");
            if (parameters is JsonObject p && p["ttl"] != null)
            {
                var seconds = ReadInt64(p["ttl"]);
                if (seconds == null || seconds.Value <= 0 || seconds.Value > 10L * 365 * 24 * 3600) throw GoogleErrors.PushInvalidTtl();
                byTtl = now + TimeSpan.FromSeconds(seconds.Value);
            }
            var expiration = byExpiration != null && byTtl != null ? (byExpiration < byTtl ? byExpiration.Value : byTtl.Value)
                : byExpiration ?? byTtl ?? now + DefaultTtl;
            if (expiration - now > _options.MaxChannelLifetime) expiration = now + _options.MaxChannelLifetime;
            expiration = DateTimeOffset.FromUnixTimeMilliseconds(expiration.ToUnixTimeMilliseconds());

            lock (_state.Gate)
            {
                string calendarId, resourceUri, key;
                if (resource == "events" || resource == "acl")
                {
                    var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: true);
                    calendarId = cal.Id;
                    key = cal.Id.ToLowerInvariant();
                    resourceUri = GoogleBase + "calendars/" + Uri.EscapeDataString(route.CalendarId!) + "/" + resource + "?alt=json"
                        + string.Concat(eventTypes.Select(t => "&eventTypes=" + t));
                }
                else
                {
                    calendarId = caller.Principal;
                    key = caller.Principal.ToLowerInvariant();
                    resourceUri = GoogleBase + "users/me/" + resource + "?alt=json";
                }
                if (_state.UsedChannelIds.Contains(id)) throw GoogleErrors.ChannelIdNotUnique(id);

                var data = new EmulatedChannel
                {
                    Id = id,
                    ResourceId = _state.ResourceIdFor(resource, key),
                    ResourceUri = resourceUri,
                    CalendarId = calendarId,
                    Resource = resource,
                    Address = address!,
                    Token = token,
                    Expiration = expiration,
                    Owner = caller.Principal,
                    ClientId = caller.ClientId,
                    CreatedByServiceAccount = caller.IsServiceAccount,
                    EventTypes = eventTypes,
                    CreatedAt = now,
                };
                var record = new ChannelRecord(data);
                _state.UsedChannelIds.Add(id);
                _state.Channels[id] = record;
                _state.ChannelOrder.Add(record);
                _dispatcher.Enqueue(record, "sync");

                var result = new JsonObject
                {
                    ["kind"] = "api#channel",
                    ["id"] = data.Id,
                    ["resourceId"] = data.ResourceId,
                    ["resourceUri"] = data.ResourceUri,
                };
                if (token != null) result["token"] = token;
                result["expiration"] = HttpUtil.ToUnixMsString(expiration);
                return result;
            }
        }

        private static long? ReadInt64(JsonNode? node)
        {
            if (!(node is JsonValue v)) return null;
            if (v.TryGetValue(out long l)) return l;
            if (v.TryGetValue(out string? s) && long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out l)) return l;
            return null;
        }

        private void Stop(Caller caller, string bodyText)
        {
            var body = ParseObject(bodyText, allowEmpty: false);
            var id = OptionalString(body, "id");
            if (string.IsNullOrEmpty(id)) throw GoogleErrors.Required("id");
            var resourceId = OptionalString(body, "resourceId");
            var notFound = GoogleErrors.NotFound("Channel '" + HttpUtil.Clip(id) + "' not found for project '" + _options.ProjectNumber + "'");
            lock (_state.Gate)
            {
                if (!_state.Channels.TryGetValue(id!, out var record) || record.Stopped || record.Data.ResourceId != resourceId
                    || record.Data.Expiration <= _state.Now)
                    throw notFound;
                var data = record.Data;
                bool allowed = _options.NoAuth
                    || (data.CreatedByServiceAccount ? caller.ClientId == data.ClientId
                        : caller.ClientId == data.ClientId && string.Equals(caller.Principal, data.Owner, StringComparison.OrdinalIgnoreCase));
                if (!allowed) throw notFound;
                record.Stopped = true;
            }
        }

        private static void RequireRole(CalendarRecord cal, Caller caller, params string[] roles)
        {
            var role = EmulatorState.RoleOf(cal, caller.Principal);
            if (role == null || !roles.Contains(role))
                throw new GoogleApiException(403, GoogleErrors.PermissionDenied, "calendar", "requiredAccessLevel",
                    "You need to have " + roles.Last() + " access to this calendar.");
        }

        private JsonObject InsertEvent(Route route, Caller caller, string bodyText)
        {
            var body = ParseObject(bodyText, allowEmpty: true);
            var eventType = OptionalString(body, "eventType") ?? "default";
            if (!EventTypes.Contains(eventType, StringComparer.Ordinal)) throw GoogleErrors.Invalid("Invalid value for eventType: " + HttpUtil.Clip(eventType), "eventType");
            lock (_state.Gate)
            {
                var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: false);
                RequireRole(cal, caller, "owner", "writer");
                var id = OptionalString(body, "id");
                if (id == null) id = Guid.NewGuid().ToString("N");
                else if (cal.Events.ContainsKey(id))
                    throw new GoogleApiException(409, "ALREADY_EXISTS", "global", "duplicate", "The requested identifier already exists.");
                var now = _state.Now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                body["kind"] = "calendar#event";
                body["id"] = id;
                body["status"] = OptionalString(body, "status") ?? "confirmed";
                body["eventType"] = eventType;
                body["created"] = now;
                body["updated"] = now;
                var record = new EventRecord(id, body);
                cal.Events[id] = record;
                NotifyEvents(cal, eventType, null);
                return (JsonObject)body.DeepClone();
            }
        }

        private JsonObject PatchEvent(Route route, Caller caller, string bodyText)
        {
            var patch = ParseObject(bodyText, allowEmpty: true);
            lock (_state.Gate)
            {
                var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: false);
                RequireRole(cal, caller, "owner", "writer");
                if (!cal.Events.TryGetValue(route.ItemId!, out var ev) || ev.Deleted) throw GoogleErrors.NotFound();
                var oldType = ev.EventType;
                var updated = (JsonObject)ev.Body.DeepClone();
                foreach (var pair in patch.ToList())
                {
                    if (pair.Key == "id" || pair.Key == "kind") continue;
                    if (pair.Value == null) updated.Remove(pair.Key);
                    else updated[pair.Key] = pair.Value.DeepClone();
                }
                var newType = updated["eventType"] is JsonValue v && v.TryGetValue(out string? t) && t != null ? t : "default";
                if (!EventTypes.Contains(newType, StringComparer.Ordinal)) throw GoogleErrors.Invalid("Invalid value for eventType: " + HttpUtil.Clip(newType), "eventType");
                updated["updated"] = _state.Now.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
                ev.Body = updated;
                NotifyEvents(cal, oldType, newType);
                return (JsonObject)updated.DeepClone();
            }
        }

        private void DeleteEvent(Route route, Caller caller)
        {
            lock (_state.Gate)
            {
                var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: false);
                RequireRole(cal, caller, "owner", "writer");
                if (!cal.Events.TryGetValue(route.ItemId!, out var ev)) throw GoogleErrors.NotFound();
                if (ev.Deleted) throw GoogleErrors.Gone();
                ev.Deleted = true;
                ev.Body["status"] = "cancelled";
                NotifyEvents(cal, ev.EventType, null);
            }
        }

        private static readonly string[] AclRoles = { "none", "freeBusyReader", "reader", "writer", "owner" };
        private static readonly string[] AclScopeTypes = { "default", "user", "group", "domain" };

        private JsonObject InsertAcl(Route route, Caller caller, string bodyText)
        {
            var body = ParseObject(bodyText, allowEmpty: false);
            var role = OptionalString(body, "role");
            if (string.IsNullOrEmpty(role)) throw GoogleErrors.Required("role");
            if (!AclRoles.Contains(role)) throw GoogleErrors.Invalid("Invalid role: " + HttpUtil.Clip(role), "role");
            if (!(body["scope"] is JsonObject scope)) throw GoogleErrors.Required("scope");
            var scopeType = OptionalString(scope, "type");
            if (string.IsNullOrEmpty(scopeType)) throw GoogleErrors.Required("scope.type");
            if (!AclScopeTypes.Contains(scopeType)) throw GoogleErrors.Invalid("Invalid scope type: " + HttpUtil.Clip(scopeType), "scope.type");
            var scopeValue = OptionalString(scope, "value");
            if (scopeType != "default" && string.IsNullOrEmpty(scopeValue)) throw GoogleErrors.Required("scope.value");
            lock (_state.Gate)
            {
                var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: false);
                RequireRole(cal, caller, "owner");
                var id = scopeType == "default" ? "default" : scopeType + ":" + scopeValue;
                var rule = new AclRuleRecord(id, role!, scopeType!, scopeType == "default" ? null : scopeValue);
                cal.Acl[id] = rule; // inserting an existing rule replaces its role
                NotifyAcl(cal);
                var result = new JsonObject { ["kind"] = "calendar#aclRule", ["id"] = id, ["role"] = role };
                var scopeJson = new JsonObject { ["type"] = scopeType };
                if (rule.ScopeValue != null) scopeJson["value"] = rule.ScopeValue;
                result["scope"] = scopeJson;
                return result;
            }
        }

        private void DeleteAcl(Route route, Caller caller)
        {
            lock (_state.Gate)
            {
                var cal = ResolveCalendar(route.CalendarId!, caller, forWatch: false);
                RequireRole(cal, caller, "owner");
                if (!cal.Acl.Remove(route.ItemId!)) throw GoogleErrors.NotFound();
                NotifyAcl(cal);
            }
        }

        /// <summary>
        /// An event or ACL change made as the calendar's owner, without HTTP (the emulator's own methods): the same checks,
        /// the same notifications as the API. <paramref name="method"/> is an API method id ("calendar.events.insert", ...).
        /// GoogleApiException for what the API would refuse; ArgumentException for a calendar the emulator does not hold.
        /// </summary>
        internal JsonObject? ChangeAsOwner(string method, string calendarId, string? itemId, JsonObject? body)
        {
            Caller caller;
            lock (_state.Gate)
            {
                if (!_state.Calendars.TryGetValue(calendarId, out var cal))
                    throw new ArgumentException("The emulator holds no calendar '" + HttpUtil.Clip(calendarId) + "': create it first (NewCalendar, or POST /emulator/v1/calendars).", nameof(calendarId));
                caller = new Caller(cal.Owner, null, "emulator-admin", false, null);
            }
            var route = new Route(method, calendarId, itemId);
            var text = body?.ToJsonString() ?? "";
            switch (method)
            {
                case "calendar.events.insert": return InsertEvent(route, caller, text);
                case "calendar.events.patch": return PatchEvent(route, caller, text);
                case "calendar.events.delete": DeleteEvent(route, caller); return null;
                case "calendar.acl.insert": return InsertAcl(route, caller, text);
                case "calendar.acl.delete": DeleteAcl(route, caller); return null;
                default: throw new ArgumentOutOfRangeException(nameof(method), method, "Not a change method.");
            }
        }

        /// <summary>Queues "exists" to every live events channel of the calendar whose eventTypes match. Gate held.</summary>
        private void NotifyEvents(CalendarRecord cal, string eventType, string? otherEventType)
        {
            var now = _state.Now;
            foreach (var record in _state.ChannelOrder)
            {
                var d = record.Data;
                if (record.Stopped || d.Expiration <= now || d.Resource != "events" || !string.Equals(d.CalendarId, cal.Id, StringComparison.OrdinalIgnoreCase)) continue;
                if (d.EventTypes.Length > 0 && !d.EventTypes.Contains(eventType) && (otherEventType == null || !d.EventTypes.Contains(otherEventType))) continue;
                _dispatcher.Enqueue(record, "exists");
            }
        }

        private void NotifyAcl(CalendarRecord cal)
        {
            var now = _state.Now;
            foreach (var record in _state.ChannelOrder)
            {
                var d = record.Data;
                if (record.Stopped || d.Expiration <= now || d.Resource != "acl" || !string.Equals(d.CalendarId, cal.Id, StringComparison.OrdinalIgnoreCase)) continue;
                _dispatcher.Enqueue(record, "exists");
            }
        }
    }
}
