using System.Management.Automation;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Disconnect-CalendarWatch: forgets the session's connection and disposes it (cached tokens go with it). Running it
    /// when not connected does nothing. A connection returned by -PassThru stays usable through -Connection.
    /// </summary>
    [Cmdlet(VerbsCommunications.Disconnect, "CalendarWatch", HelpUri = HelpLinks.Base + "Disconnect-CalendarWatch.md")]
    [OutputType(typeof(void))]
    public sealed class DisconnectCalendarWatchCommand : PSCmdlet
    {
        protected override void EndProcessing()
        {
            var previous = CalendarWatchSession.Set(null, handedOut: false);
            WriteVerbose(previous is null ? "Not connected: nothing to disconnect." : $"Disconnected from {previous}.");
        }
    }
}
