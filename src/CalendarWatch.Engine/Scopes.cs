using System;
using System.Collections.Generic;

namespace CalendarWatch.Engine
{
    /// <summary>
    /// The Calendar OAuth scopes CalendarWatch names. Which scopes each method asks for and accepts is part of the
    /// method's row in <see cref="ApiMethod"/>.
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
    }
}
