using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch.Commands
{
    /// <summary>New-CalendarListWatch: calendarList.watch, the calendars a user subscribes to, per user from the pipeline.</summary>
    [Cmdlet(VerbsCommon.New, "CalendarListWatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = TimeToLiveSet, HelpUri = HelpLinks.Base + "New-CalendarListWatch.md")]
    [OutputType(typeof(Channel))]
    public sealed class NewCalendarListWatchCommand : NewUserWatchCommandBase
    {
        protected override WatchResource Resource => WatchResource.CalendarList;

        protected override string ResourceDescription => "calendar list";
    }
}
