using System;
using System.Management.Automation;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Get-CalendarChannel: the channel record, the list Google does not offer. By default what is live (Active and not
    /// expired, and Pending or MayExist: channels that may exist); filters by calendar, resource, state, identity and
    /// time to expiry. Reads a local file only, streaming (100,000 rows never sit in memory), and its objects pipe into
    /// Stop-CalendarChannel and Update-CalendarChannel by property name.
    /// </summary>
    [Cmdlet(VerbsCommon.Get, "CalendarChannel", DefaultParameterSetName = FilterSet, HelpUri = HelpLinks.Base + "Get-CalendarChannel.md")]
    [OutputType(typeof(ChannelRecord))]
    public sealed class GetCalendarChannelCommand : PSCmdlet, IDisposable
    {
        private const string FilterSet = "Filter";
        private const string IdSet = "Id";

        /// <summary>The PSTypeName the format file's views select.</summary>
        public const string TypeName = "CalendarWatch.ChannelRecord";

        private ChannelStore? _store;

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = IdSet, ValueFromPipelineByPropertyName = true, HelpMessage = "The channel ids to show, in any state.")]
        [Alias("ChannelId")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ChannelIdCompleter))]
        public string[]? Id { get; set; }

        [Parameter(Position = 0, ParameterSetName = FilterSet, HelpMessage = "Only channels on this calendar (case-insensitive; 'me' for calendar-list and settings watches).")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(CalendarIdCompleter))]
        public string? CalendarId { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Only channels that watch this: Events, Acl, CalendarList or Settings.")]
        public WatchResource? Resource { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Only channels in these states: Pending, Active, MayExist, Failed, Stopped, Replaced, Expired. Default: the live ones (Active, Pending, MayExist).")]
        [ValidateNotNullOrEmpty]
        public ChannelState[]? State { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Every state, not only the live channels.")]
        public SwitchParameter All { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Only channels made as this user (domain-wide delegation).")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(SubjectCompleter))]
        public string? Subject { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Only channels made by this identity (a service account's email).")]
        [ValidateNotNullOrEmpty]
        public string? Account { get; set; }

        [Parameter(ParameterSetName = FilterSet, HelpMessage = "Only channels that expire within this time from now: the ones to renew. Example: (New-TimeSpan -Days 2).")]
        public TimeSpan? ExpiringWithin { get; set; }

        [Parameter(HelpMessage = "The channel record to read instead of the default (CALENDARWATCH_STORE, else the per-user file).")]
        [ValidateNotNullOrEmpty]
        public string? RecordPath { get; set; }

        protected override void BeginProcessing()
        {
            if (ExpiringWithin is TimeSpan within && within < TimeSpan.Zero)
            {
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidExpiringWithin",
                    $"-ExpiringWithin {within} is negative. Give a time ahead, such as (New-TimeSpan -Days 2).", within));
            }

            _store = ChannelRecordFile.Open(this, RecordPath, noRecord: false);
        }

        protected override void ProcessRecord()
        {
            var store = _store!;
            if (ParameterSetName == IdSet)
            {
                foreach (var id in Id!)
                {
                    var record = store.Get(id);
                    if (record is null)
                    {
                        WriteError(new ErrorRecord(new ItemNotFoundException($"Channel '{id}' is not in the channel record ({store.Path}). Made with -NoRecord or another -RecordPath? Look in the CSV you exported."),
                            "CalendarWatch.ChannelNotRecorded", ErrorCategory.ObjectNotFound, id));
                        continue;
                    }

                    WriteObject(ToPSObject(record));
                }

                return;
            }

            var query = new ChannelQuery
            {
                CalendarId = CalendarId,
                Resource = Resource,
                States = State,
                AllStates = All.IsPresent,
                Subject = Subject,
                Account = Account,
                ExpiringWithin = ExpiringWithin,
            };
            foreach (var record in store.Query(query))
            {
                WriteObject(ToPSObject(record));
            }
        }

        public void Dispose()
        {
            _store?.Dispose();
            _store = null;
        }

        /// <summary>A record row as PowerShell shows it: its type name for the views, instants culture-proof in CSV.</summary>
        public static PSObject ToPSObject(ChannelRecord record)
        {
            var output = PSObject.AsPSObject(record);
            output.TypeNames.Insert(0, TypeName);
            ShadowInstant(output, nameof(ChannelRecord.Expiration), record.Expiration);
            ShadowInstant(output, nameof(ChannelRecord.ExpiresAt), record.ExpiresAt);
            ShadowInstant(output, nameof(ChannelRecord.CreatedAt), record.CreatedAt);
            ShadowInstant(output, nameof(ChannelRecord.UpdatedAt), record.UpdatedAt);
            return output;
        }

        private static void ShadowInstant(PSObject output, string name, DateTimeOffset? value)
        {
            if (value is DateTimeOffset instant)
            {
                output.Properties.Add(new PSNoteProperty(name, ChannelOutput.Instant(instant)));
            }
        }
    }
}
