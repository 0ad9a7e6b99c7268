using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch.Commands
{
    /// <summary>New-CalendarSettingsWatch: settings.watch, a user's Calendar settings, per user from the pipeline.</summary>
    [Cmdlet(VerbsCommon.New, "CalendarSettingsWatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = TimeToLiveSet, HelpUri = HelpLinks.Base + "New-CalendarSettingsWatch.md")]
    [OutputType(typeof(Channel))]
    public sealed class NewCalendarSettingsWatchCommand : NewUserWatchCommandBase
    {
        protected override WatchResource Resource => WatchResource.Settings;

        protected override string ResourceDescription => "Calendar settings";
    }
}
