using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Http;
using System.Text;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// One Calendar API method CalendarWatch calls, described once: its discovery id, the operation's name in messages,
    /// the HTTP verb and path, the narrowest scope it asks for and every scope it accepts (from calendar.v3.discovery.json),
    /// and whether a successful call creates a channel. <see cref="CalendarApiClient"/> has one generic send over these
    /// rows; adding a method is adding a row.
    /// </summary>
    public sealed class ApiMethod
    {
        private const string P = Scopes.Prefix;

        /// <summary>events.watch: POST calendars/{calendarId}/events/watch (query: eventTypes).</summary>
        public static readonly ApiMethod EventsWatch = new ApiMethod("calendar.events.watch", "watch", "calendar/v3/calendars/{calendarId}/events/watch", WatchResource.Events, Scopes.EventsReadonly,
            Scopes.Calendar, P + "calendar.app.created", P + "calendar.events", P + "calendar.events.freebusy", P + "calendar.events.owned",
            P + "calendar.events.owned.readonly", P + "calendar.events.public.readonly", Scopes.EventsReadonly, Scopes.CalendarReadonly);

        /// <summary>acl.watch: POST calendars/{calendarId}/acl/watch.</summary>
        public static readonly ApiMethod AclWatch = new ApiMethod("calendar.acl.watch", "watch", "calendar/v3/calendars/{calendarId}/acl/watch", WatchResource.Acl, Scopes.AclsReadonly,
            Scopes.Calendar, P + "calendar.acls", Scopes.AclsReadonly);

        /// <summary>calendarList.watch: POST users/me/calendarList/watch (the caller's own list).</summary>
        public static readonly ApiMethod CalendarListWatch = new ApiMethod("calendar.calendarList.watch", "watch", "calendar/v3/users/me/calendarList/watch", WatchResource.CalendarList, Scopes.CalendarListReadonly,
            Scopes.Calendar, P + "calendar.calendarlist", Scopes.CalendarListReadonly, Scopes.CalendarReadonly);

        /// <summary>settings.watch: POST users/me/settings/watch (the caller's own settings).</summary>
        public static readonly ApiMethod SettingsWatch = new ApiMethod("calendar.settings.watch", "watch", "calendar/v3/users/me/settings/watch", WatchResource.Settings, Scopes.SettingsReadonly,
            Scopes.Calendar, Scopes.CalendarReadonly, Scopes.SettingsReadonly);

        /// <summary>channels.stop: POST channels/stop. Accepts any calendar scope; the read-only events scope is the narrowest common grant.</summary>
        public static readonly ApiMethod ChannelsStop = new ApiMethod("calendar.channels.stop", "stop", "calendar/v3/channels/stop", resource: null, Scopes.EventsReadonly,
            Scopes.Calendar, P + "calendar.acls", Scopes.AclsReadonly, P + "calendar.app.created", P + "calendar.calendarlist",
            Scopes.CalendarListReadonly, P + "calendar.events", P + "calendar.events.freebusy", P + "calendar.events.owned",
            P + "calendar.events.owned.readonly", P + "calendar.events.public.readonly", Scopes.EventsReadonly, Scopes.CalendarReadonly,
            Scopes.SettingsReadonly);

        /// <summary>Every method, in the order above.</summary>
        public static readonly IReadOnlyList<ApiMethod> All = new[] { EventsWatch, AclWatch, CalendarListWatch, SettingsWatch, ChannelsStop };

        private ApiMethod(string id, string operation, string pathTemplate, WatchResource? resource, string narrowest, params string[] accepted)
        {
            Id = id;
            Operation = operation;
            Verb = HttpMethod.Post;
            PathTemplate = pathTemplate;
            Watches = resource;
            Narrowest = new[] { narrowest };
            Accepted = accepted;
        }

        /// <summary>The discovery method id, e.g. <c>calendar.events.watch</c>.</summary>
        public string Id { get; }

        /// <summary>What the call does, in messages: <c>watch</c> or <c>stop</c>.</summary>
        public string Operation { get; }

        public HttpMethod Verb { get; }

        /// <summary>The path below the API root; <c>{calendarId}</c> is filled in as one percent-encoded segment.</summary>
        public string PathTemplate { get; }

        /// <summary>The collection a watch method watches; null for methods that create no channel.</summary>
        public WatchResource? Watches { get; }

        /// <summary>True when success creates a channel (a failure that may have reached Google may have created one).</summary>
        public bool CreatesChannel => Watches.HasValue;

        /// <summary>True when the path names a calendar.</summary>
        public bool TakesCalendarId => PathTemplate.IndexOf("{calendarId}", StringComparison.Ordinal) >= 0;

        /// <summary>The narrowest scope the method accepts: what a call asks for unless the connection overrides it.</summary>
        public IReadOnlyList<string> Narrowest { get; }

        /// <summary>Every scope the method accepts (named in insufficientPermissions messages).</summary>
        public IReadOnlyList<string> Accepted { get; }

        /// <summary>The watch method of <paramref name="resource"/>.</summary>
        public static ApiMethod Watch(WatchResource resource) => resource switch
        {
            WatchResource.Events => EventsWatch,
            WatchResource.Acl => AclWatch,
            WatchResource.CalendarList => CalendarListWatch,
            WatchResource.Settings => SettingsWatch,
            _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, "Not a watchable resource."),
        };

        /// <summary>
        /// The path below the API root: the calendar id as one percent-encoded segment (it can never change the path:
        /// <c>.</c> and <c>..</c> are refused before this), then the query (already encoded), if any.
        /// </summary>
        public string PathFor(string? calendarId, string? query = null)
        {
            var path = PathTemplate;
            if (TakesCalendarId)
            {
                if (string.IsNullOrEmpty(calendarId)) throw new ArgumentException($"{Id} needs a calendar id.", nameof(calendarId));
                path = path.Replace("{calendarId}", EncodeSegment(calendarId!));
            }

            return string.IsNullOrEmpty(query) ? path : path + "?" + query;
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

        public override string ToString() => Id;
    }
}
