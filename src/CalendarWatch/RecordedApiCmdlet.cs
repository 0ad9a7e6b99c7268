using System;
using System.Management.Automation;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch
{
    /// <summary>
    /// An API cmdlet that keeps the channel record (<see cref="ChannelStore"/>): the list of channels Google does not
    /// offer. Watches are recorded before they are sent, so that a process killed at any moment leaves every channel
    /// that may exist named; stops and renewals update it. -RecordPath names another file, -NoRecord runs without one.
    /// </summary>
    public abstract class RecordedApiCmdlet<TRequest, TResult> : CalendarApiCmdlet<TRequest, TResult>
        where TRequest : class
    {
        [Parameter(HelpMessage = "The channel record to use instead of the default (CALENDARWATCH_STORE, else the per-user file).")]
        [ValidateNotNullOrEmpty]
        public string? RecordPath { get; set; }

        [Parameter(HelpMessage = "Run without the channel record: nothing is looked up or written there. Keep the output (Export-Csv): it is then the only trace of the channels made.")]
        public SwitchParameter NoRecord { get; set; }

        /// <summary>The record, or null under -NoRecord. Opened in BeginProcessing; thread-safe.</summary>
        protected ChannelStore? Store { get; private set; }

        /// <summary>A record update whose failure becomes a warning naming the channel (any thread).</summary>
        protected void Record(string channelId, Action<ChannelStore> update)
        {
            if (Store != null)
            {
                RecordedWatch.Update(Store, channelId, PostWarning, update);
            }
        }

        protected override void BeginProcessing()
        {
            Store = ChannelRecordFile.Open(this, RecordPath, NoRecord);
            base.BeginProcessing();
        }

        protected override void EndProcessing()
        {
            base.EndProcessing();

            // Every item has ended: the Active marks still waiting are written before the command returns.
            Store?.Flush();
        }

        protected override void Dispose(bool disposing)
        {
            // The base hands out what is still in flight first (after a Ctrl+C), whose records are still written.
            base.Dispose(disposing);
            if (disposing)
            {
                Store?.Dispose();
            }
        }
    }

    /// <summary>Which record file a command uses, opened once per command: -NoRecord, -RecordPath, CALENDARWATCH_STORE, the per-user default.</summary>
    internal static class ChannelRecordFile
    {
        public static ChannelStore? Open(PSCmdlet cmdlet, string? recordPath, bool noRecord)
        {
            if (noRecord)
            {
                cmdlet.WriteVerbose("Running without the channel record (-NoRecord).");
                return null;
            }

            string path;
            string why;
            var fromEnvironment = Environment.GetEnvironmentVariable(ChannelStoreLocation.EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(recordPath))
            {
                // Relative paths and ~ resolve against PowerShell's location, not the process's folder.
                path = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(recordPath);
                why = "-RecordPath";
            }
            else if (!string.IsNullOrWhiteSpace(fromEnvironment))
            {
                path = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(fromEnvironment!.Trim());
                why = ChannelStoreLocation.EnvironmentVariable;
            }
            else
            {
                var location = ChannelStoreLocation.Resolve();
                path = location.Path;
                why = location.Reason;
            }

            try
            {
                var store = ChannelStore.Open(path);
                cmdlet.WriteVerbose($"Channel record: {path} ({why}).");
                return store;
            }
            catch (CalendarWatchException ex)
            {
                cmdlet.ThrowTerminatingError(new ErrorRecord(ex, ex.ErrorId, ErrorRecords.CategoryFor(ex.Kind), path));
                throw;
            }
        }
    }
}
