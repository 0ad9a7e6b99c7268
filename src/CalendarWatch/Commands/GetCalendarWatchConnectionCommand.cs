using System.Management.Automation;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Get-CalendarWatchConnection: the session's connection (kind, account, default subject, scopes, endpoint; never a
    /// secret). Writes nothing when not connected, and says so, with what a watch cmdlet would use instead, under -Verbose.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "CalendarWatchConnection", HelpUri = HelpLinks.Base + "Get-CalendarWatchConnection.md")]
    [OutputType(typeof(ConnectionInfo))]
    public sealed class GetCalendarWatchConnectionCommand : PSCmdlet
    {
        protected override void EndProcessing()
        {
            var current = CalendarWatchSession.Current;
            if (current is null)
            {
                WriteVerbose("Not connected: Connect-CalendarWatch has not been run in this session (or Disconnect-CalendarWatch forgot it). " +
                    "A watch cmdlet without -Connection uses the emulator named by CALENDARWATCH_EMULATOR_HOST, else Application Default Credentials.");
                return;
            }

            WriteObject(new ConnectionInfo(current));
        }
    }
}
