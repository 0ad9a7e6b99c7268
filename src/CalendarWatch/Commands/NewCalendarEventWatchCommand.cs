using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch.Commands
{
    /// <summary>New-CalendarEventWatch: one events.watch channel per calendar id from the pipeline.</summary>
    [Cmdlet(VerbsCommon.New, "CalendarEventWatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = TimeToLiveSet, HelpUri = HelpLinks.Base + "New-CalendarEventWatch.md")]
    [OutputType(typeof(Channel))]
    public sealed class NewCalendarEventWatchCommand : NewCalendarWatchCommandBase
    {
        /// <summary>
        /// Binds from an EventTypes property too (the watch cmdlets' own output, and its CSV), where the list is one
        /// comma-separated text; empty there means every type.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "Only notify for these event types (default, focusTime, outOfOffice, workingLocation, fromGmail, birthday; later values pass through). Default: every type. Binds from an EventTypes column (comma-separated).")]
        [Alias("EventTypes")]
        [ArgumentCompleter(typeof(EventTypeCompleter))]
        [EventTypeListTransformation]
        [AllowNull]
        [AllowEmptyCollection]
        public string[]? EventType { get; set; }

        protected override WatchResource Resource => WatchResource.Events;

        protected override string ResourceDescription => "events";

        protected override IReadOnlyList<string> SelectedEventTypes =>
            EventType is null ? Array.Empty<string>() : EventType.Distinct(StringComparer.Ordinal).ToArray();
    }
}
