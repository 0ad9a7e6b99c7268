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
    }
}
