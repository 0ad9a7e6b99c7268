using System;
using System.Management.Automation;
using System.Threading;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Notifications;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// Receive-CalendarNotification: a webhook receiver (HttpListener, loopback by default) that writes one
    /// CalendarWatch.Notification per push notification as it arrives, matched against the channel record. Ends after
    /// -Count notifications, after -Timeout, on Ctrl+C or when a downstream command (Select-Object -First) has enough;
    /// the port is freed at once.
    /// </summary>
    [Cmdlet(VerbsCommunications.Receive, "CalendarNotification", DefaultParameterSetName = PortSet, HelpUri = HelpLinks.Base + "Receive-CalendarNotification.md")]
    [OutputType(typeof(Notification))]
    public sealed class ReceiveCalendarNotificationCommand : AsyncPSCmdlet
    {
        private const string PortSet = "Port";
        private const string PrefixSet = "Prefix";

        private ChannelStore? _store;
        private NotificationListener? _listener;
        private int _written;

        [Parameter(Mandatory = true, Position = 0, ParameterSetName = PortSet, HelpMessage = "The TCP port to listen on, on loopback (http://127.0.0.1:PORT/, any path).")]
        [ValidateRange(1, 65535)]
        public int Port { get; set; }

        [Parameter(Mandatory = true, ParameterSetName = PrefixSet, HelpMessage = "HttpListener prefixes to listen on instead, each ending in '/': http://+:8080/calendar/ listens on every address (Windows: needs an administrator or a URL ACL).")]
        [ValidateNotNullOrEmpty]
        public string[]? Prefix { get; set; }

        [Parameter(HelpMessage = "Stop after writing this many notifications; later requests are answered 503, so Google delivers them again.")]
        [ValidateRange(1, int.MaxValue)]
        public int Count { get; set; }

        [Parameter(HelpMessage = "Stop listening after this long, e.g. (New-TimeSpan -Minutes 5). Default: until -Count, Ctrl+C or the pipeline ends.")]
        public TimeSpan Timeout { get; set; }

        [Parameter(HelpMessage = "Also write the copies a renewed channel's predecessor delivers during the overlap (IsDuplicate True).")]
        public SwitchParameter IncludeDuplicate { get; set; }

        [Parameter(HelpMessage = "The channel token expected from channels the record does not know (-NoRecord, channels made elsewhere); a different one is refused (403).")]
        [AllowEmptyString]
        public string? Token { get; set; }

        [Parameter(HelpMessage = "The channel record to match against instead of the default (CALENDARWATCH_STORE, else the per-user file).")]
        [ValidateNotNullOrEmpty]
        public string? RecordPath { get; set; }

        [Parameter(HelpMessage = "Match nothing against the channel record: every channel is unknown (IsKnownChannel False); only -Token is checked.")]
        public SwitchParameter NoRecord { get; set; }

        protected override void BeginProcessing()
        {
            if (MyInvocation.BoundParameters.ContainsKey(nameof(Timeout)) && Timeout <= TimeSpan.Zero)
            {
                ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidTimeout",
                    $"-Timeout {Timeout} is not a positive time. Give how long to listen, such as (New-TimeSpan -Minutes 5).", Timeout));
            }

            if (Prefix != null)
            {
                foreach (var prefix in Prefix)
                {
                    if (!prefix.EndsWith("/", StringComparison.Ordinal) || !(prefix.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || prefix.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                    {
                        ThrowTerminatingError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidPrefix",
                            $"-Prefix '{prefix}' is not an HttpListener prefix: it must start with http:// or https:// and end with '/', such as http://+:8080/calendar/.", prefix));
                    }
                }
            }

            _store = ChannelRecordFile.Open(this, RecordPath, NoRecord);
            try
            {
                var reader = new NotificationReader(_store, Token);
                _listener = NotificationListener.Start(Prefix, Port, reader, TimeSpan.FromSeconds(10));
            }
            catch (CalendarWatchException ex)
            {
                ThrowTerminatingError(ErrorRecords.From(ex, Prefix is null ? (object)Port : string.Join(", ", Prefix)));
            }

            WriteVerbose($"Listening on {string.Join(", ", _listener!.Prefixes)}" + (Count > 0 ? $" for {Count} notification(s)" : string.Empty) +
                         (Timeout > TimeSpan.Zero ? $", at most {Timeout}" : string.Empty) + ".");
        }

        protected override void ProcessRecord()
        {
            var listener = _listener!;
            var timedOut = false;
            RunWork(async token =>
            {
                using var limit = CancellationTokenSource.CreateLinkedTokenSource(token);
                if (Timeout > TimeSpan.Zero)
                {
                    limit.CancelAfter(Timeout);
                }

                using (limit.Token.Register(() => timedOut = !token.IsCancellationRequested))
                {
                    await listener.RunAsync(verdict => Deliver(listener, verdict), limit.Token).ConfigureAwait(false);
                }
            });

            if (timedOut && Count > 0 && _written < Count)
            {
                WriteWarning($"-Timeout {Timeout} passed after {Math.Min(_written, Count)} of {Count} notification(s).");
            }
        }

        /// <summary>Any thread, before the request is answered: false answers an accepted notification 503.</summary>
        private bool Deliver(NotificationListener listener, NotificationVerdict verdict)
        {
            if (verdict.Error != null) PostError(ErrorRecords.ForFailure(verdict.Error, verdict.Error.ChannelId));
            if (verdict.Warning != null) PostWarning(verdict.Warning);
            var notification = verdict.Notification;
            if (notification is null) return true;
            if (notification.IsDuplicate && !IncludeDuplicate)
            {
                PostVerbose($"Notification {notification.MessageNumber} of channel {notification.ChannelId} ({notification.ResourceState}) repeats what its successor {notification.ReplacedBy} delivers: not written (-IncludeDuplicate writes it).");
                return true;
            }

            if (Count > 0)
            {
                var number = Interlocked.Increment(ref _written);
                if (number > Count) return false;
                PostObject(NotificationOutput.ToPSObject(notification));
                if (number == Count) listener.CloseAfterAnswer();
                return true;
            }

            Interlocked.Increment(ref _written);
            PostObject(NotificationOutput.ToPSObject(notification));
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _listener?.Dispose();
                _store?.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
