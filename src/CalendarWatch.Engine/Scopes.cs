using System;
using System.Collections.Generic;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// OAuth scopes, per method: the narrowest scope each method asks for unless the connection overrides them, and
    /// every scope it accepts (from calendar.v3.discovery.json, named in insufficientPermissions messages).
    /// </summary>
    public static class Scopes
    {
        /// <summary>Google's scope prefix; a short name such as <c>calendar.readonly</c> is completed with it.</summary>
        public const string Prefix = "https://www.googleapis.com/auth/";

        public const string Calendar = Prefix + "calendar";
        public const string CalendarReadonly = Prefix + "calendar.readonly";
        public const string EventsReadonly = Prefix + "calendar.events.readonly";
        public const string AclsReadonly = Prefix + "calendar.acls.readonly";
        public const string CalendarListReadonly = Prefix + "calendar.calendarlist.readonly";
        public const string SettingsReadonly = Prefix + "calendar.settings.readonly";

        /// <summary>
        /// Every OAuth scope of the Calendar API: <c>auth.oauth2.scopes</c> of calendar.v3.discovery.json (revision
        /// 20251028). <c>Connect-CalendarWatch -Scope</c> accepts these only.
        /// </summary>
        public static readonly IReadOnlyList<string> Known = new[]
        {
            Calendar,
            Prefix + "calendar.acls",
            AclsReadonly,
            Prefix + "calendar.app.created",
            Prefix + "calendar.calendarlist",
            CalendarListReadonly,
            Prefix + "calendar.calendars",
            Prefix + "calendar.calendars.readonly",
            Prefix + "calendar.events",
            Prefix + "calendar.events.freebusy",
            Prefix + "calendar.events.owned",
            Prefix + "calendar.events.owned.readonly",
            Prefix + "calendar.events.public.readonly",
            EventsReadonly,
            Prefix + "calendar.freebusy",
            CalendarReadonly,
            SettingsReadonly,
        };

        /// <summary>True for a full scope URL of the Calendar API (case-sensitive, as Google compares them).</summary>
        public static bool IsKnown(string scope)
        {
            foreach (var known in Known)
            {
                if (string.Equals(known, scope, StringComparison.Ordinal)) return true;
            }

            return false;
        }

        /// <summary><c>https://www.googleapis.com/auth/calendar.readonly</c> → <c>calendar.readonly</c>; other values unchanged.</summary>
        public static string ShortName(string scope) =>
            scope.StartsWith(Prefix, StringComparison.Ordinal) ? scope.Substring(Prefix.Length) : scope;

        /// <summary>The discovery method id of channels.stop.</summary>
        public const string StopMethod = "calendar.channels.stop";

        private static readonly Method EventsWatch = new Method("calendar.events.watch", EventsReadonly,
            Calendar, Prefix + "calendar.app.created", Prefix + "calendar.events", Prefix + "calendar.events.freebusy", Prefix + "calendar.events.owned",
            Prefix + "calendar.events.owned.readonly", Prefix + "calendar.events.public.readonly", EventsReadonly, CalendarReadonly);

        private static readonly Method AclWatch = new Method("calendar.acl.watch", AclsReadonly,
            Calendar, Prefix + "calendar.acls", AclsReadonly);

        private static readonly Method CalendarListWatch = new Method("calendar.calendarList.watch", CalendarListReadonly,
            Calendar, Prefix + "calendar.calendarlist", CalendarListReadonly, CalendarReadonly);

        private static readonly Method SettingsWatch = new Method("calendar.settings.watch", SettingsReadonly,
            Calendar, CalendarReadonly, SettingsReadonly);

        /// <summary>channels.stop accepts any calendar scope; the read-only events scope is the narrowest common grant.</summary>
        private static readonly Method ChannelsStop = new Method(StopMethod, EventsReadonly,
            Calendar, Prefix + "calendar.acls", AclsReadonly, Prefix + "calendar.app.created", Prefix + "calendar.calendarlist",
            CalendarListReadonly, Prefix + "calendar.events", Prefix + "calendar.events.freebusy", Prefix + "calendar.events.owned",
            Prefix + "calendar.events.owned.readonly", Prefix + "calendar.events.public.readonly", EventsReadonly, CalendarReadonly,
            SettingsReadonly);

        /// <summary>The narrowest scope that the watch method of <paramref name="resource"/> accepts.</summary>
        public static IReadOnlyList<string> ForWatch(WatchResource resource) => Watch(resource).Narrowest;

        /// <summary>The narrowest scope that channels.stop accepts.</summary>
        public static IReadOnlyList<string> ForStop => ChannelsStop.Narrowest;

        /// <summary>The discovery method id of a watch, e.g. <c>calendar.events.watch</c>.</summary>
        public static string WatchMethod(WatchResource resource) => Watch(resource).Id;

        /// <summary>Every scope the watch method of <paramref name="resource"/> accepts.</summary>
        public static IReadOnlyList<string> AcceptedByWatch(WatchResource resource) => Watch(resource).Accepted;

        /// <summary>Every scope channels.stop accepts.</summary>
        public static IReadOnlyList<string> AcceptedByStop => ChannelsStop.Accepted;

        private static Method Watch(WatchResource resource) => resource switch
        {
            WatchResource.Events => EventsWatch,
            WatchResource.Acl => AclWatch,
            WatchResource.CalendarList => CalendarListWatch,
            WatchResource.Settings => SettingsWatch,
            _ => throw new ArgumentOutOfRangeException(nameof(resource)),
        };

        /// <summary>One API method's scopes; the lists are built once, so no call allocates them.</summary>
        private sealed class Method
        {
            public Method(string id, string narrowest, params string[] accepted)
            {
                Id = id;
                Narrowest = new[] { narrowest };
                Accepted = accepted;
            }

            public string Id { get; }

            public IReadOnlyList<string> Narrowest { get; }

            public IReadOnlyList<string> Accepted { get; }
        }
    }
}
