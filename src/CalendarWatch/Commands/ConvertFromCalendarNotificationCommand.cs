using System;
using System.Collections;
using System.Management.Automation;
using CalendarWatch.Engine.Notifications;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// ConvertFrom-CalendarNotification: the same objects and checks as Receive-CalendarNotification for receivers hosted
    /// elsewhere (Pode, Azure Functions, PowerShell Universal, ASP.NET): one request's headers in, one
    /// CalendarWatch.Notification out, or one error saying why the request should be refused.
    /// </summary>
    [Cmdlet(VerbsData.ConvertFrom, "CalendarNotification", HelpUri = HelpLinks.Base + "ConvertFrom-CalendarNotification.md")]
    [OutputType(typeof(Notification))]
    public sealed class ConvertFromCalendarNotificationCommand : PSCmdlet, IDisposable
    {
        private ChannelStore? _store;
        private NotificationReader? _reader;

        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true,
            HelpMessage = "The request's headers: a hashtable or other dictionary (Azure Functions' $Request.Headers, Pode's $WebEvent.Request.Headers), or a NameValueCollection.")]
        [HeadersTransformation]
        public IDictionary? Headers { get; set; }

        [Parameter(HelpMessage = "Also write the copies a renewed channel's predecessor delivers during the overlap (IsDuplicate True).")]
        public SwitchParameter IncludeDuplicate { get; set; }

        [Parameter(HelpMessage = "The channel token expected from channels the record does not know (-NoRecord, channels made elsewhere); a different one is refused.")]
        [AllowEmptyString]
        public string? Token { get; set; }

        [Parameter(HelpMessage = "The channel record to match against instead of the default (CALENDARWATCH_STORE, else the per-user file).")]
        [ValidateNotNullOrEmpty]
        public string? RecordPath { get; set; }

        [Parameter(HelpMessage = "Match nothing against the channel record: every channel is unknown (IsKnownChannel False); only -Token is checked.")]
        public SwitchParameter NoRecord { get; set; }

        protected override void BeginProcessing()
        {
            _store = ChannelRecordFile.Open(this, RecordPath, NoRecord);
            _reader = new NotificationReader(_store, Token);
        }

        protected override void ProcessRecord()
        {
            var verdict = _reader!.Read(NotificationOutput.HeaderLookup(Headers!), DateTimeOffset.UtcNow);
            if (verdict.Error != null)
            {
                WriteError(ErrorRecords.ForFailure(verdict.Error, verdict.Error.ChannelId));
            }

            if (verdict.Warning != null)
            {
                WriteWarning(verdict.Warning);
            }

            if (verdict.Notification is Notification notification)
            {
                if (notification.IsDuplicate && !IncludeDuplicate)
                {
                    WriteVerbose($"Notification {notification.MessageNumber} of channel {notification.ChannelId} repeats what its successor {notification.ReplacedBy} delivers: not written (-IncludeDuplicate writes it). Answer it 200.");
                    return;
                }

                WriteObject(NotificationOutput.ToPSObject(notification));
            }
        }

        public void Dispose()
        {
            _store?.Dispose();
            _store = null;
        }
    }

    /// <summary>
    /// -Headers from what web frameworks hand a script: a NameValueCollection (HttpListenerRequest.Headers) or pairs
    /// with Key and Value (ASP.NET's IHeaderDictionary) become a hashtable; a dictionary passes as it is.
    /// </summary>
    public sealed class HeadersTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            if (value is null || value is IDictionary || value is string || !(value is IEnumerable))
            {
                return inputData;
            }

            var table = new Hashtable(StringComparer.OrdinalIgnoreCase);
            var lookup = NotificationOutput.HeaderLookup(value);
            foreach (var name in new[]
                     {
                         NotificationReader.ChannelIdHeader, NotificationReader.MessageNumberHeader, NotificationReader.ResourceIdHeader, NotificationReader.ResourceStateHeader,
                         NotificationReader.ResourceUriHeader, NotificationReader.ChannelExpirationHeader, NotificationReader.ChannelTokenHeader,
                     })
            {
                var values = lookup(name);
                if (values != null) table[name] = values.Count == 1 ? (object)values[0] : new System.Collections.Generic.List<string>(values).ToArray();
            }

            return table;
        }
    }
}
