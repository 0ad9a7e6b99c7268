using System.Management.Automation;
using CalendarWatch.Engine;

namespace CalendarWatch.Commands
{
    /// <summary>New-CalendarAclWatch: one acl.watch channel (sharing changes) per calendar id from the pipeline.</summary>
    [Cmdlet(VerbsCommon.New, "CalendarAclWatch", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low, DefaultParameterSetName = TimeToLiveSet, HelpUri = HelpLinks.Base + "New-CalendarAclWatch.md")]
    [OutputType(typeof(Channel))]
    public sealed class NewCalendarAclWatchCommand : NewCalendarWatchCommandBase
    {
        protected override WatchResource Resource => WatchResource.Acl;

        protected override string ResourceDescription => "access control list (sharing)";
    }
}
