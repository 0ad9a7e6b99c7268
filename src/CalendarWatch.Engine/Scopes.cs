using System;
using System.Collections.Generic;

namespace CalendarWatch.Engine
{
    /// <summary>OAuth scopes; each method asks for the narrowest scope it accepts unless the connection overrides them.</summary>
    public static class Scopes
    {
        public const string Calendar = "https://www.googleapis.com/auth/calendar";
        public const string CalendarReadonly = "https://www.googleapis.com/auth/calendar.readonly";
        public const string EventsReadonly = "https://www.googleapis.com/auth/calendar.events.readonly";
        public const string AclsReadonly = "https://www.googleapis.com/auth/calendar.acls.readonly";
        public const string CalendarListReadonly = "https://www.googleapis.com/auth/calendar.calendarlist.readonly";
        public const string SettingsReadonly = "https://www.googleapis.com/auth/calendar.settings.readonly";

        /// <summary>The narrowest scope that the watch method of <paramref name="resource"/> accepts.</summary>
        public static IReadOnlyList<string> ForWatch(WatchResource resource) => resource switch
        {
            WatchResource.Events => new[] { EventsReadonly },
            WatchResource.Acl => new[] { AclsReadonly },
            WatchResource.CalendarList => new[] { CalendarListReadonly },
            WatchResource.Settings => new[] { SettingsReadonly },
            _ => throw new ArgumentOutOfRangeException(nameof(resource)),
        };

        /// <summary>channels.stop accepts any calendar scope; the read-only events scope is the narrowest common grant.</summary>
        public static IReadOnlyList<string> ForStop { get; } = new[] { EventsReadonly };
    }
}
