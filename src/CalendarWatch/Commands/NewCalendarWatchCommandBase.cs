using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// The parameters and steps every New-Calendar*Watch cmdlet shares. Holds no Google knowledge: it builds a
    /// <see cref="WatchRequest"/>, asks ShouldProcess and hands the request to the engine. Subclasses say what one
    /// input item is (calendar ids, or the users whose own calendar list or settings are watched).
    /// </summary>
    public abstract class WatchCommandBase : RecordedApiCmdlet<WatchRequest, Channel>
    {
        protected const string TimeToLiveSet = "TimeToLive";
        protected const string ExpiresAtSet = "ExpiresAt";

        /// <summary>The lifetime asked for when neither -TimeToLive nor -ExpiresAt is given (Google's default too).</summary>
        public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromDays(7);

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true,
            HelpMessage = "The https URL of your webhook receiver (http only when connected to the emulator).")]
        [ValidateNotNull]
        public Uri? Address { get; set; }

        [Parameter(HelpMessage = "The new channel's id (at most 64 characters, never used before in the project). Default: a new GUID for every item.")]
        [ValidateLength(1, RequestValidation.MaxChannelIdLength)]
        public string? ChannelId { get; set; }

        [Parameter(HelpMessage = "A value Google echoes on every notification (X-Goog-Channel-Token), at most 256 characters. Not for secrets.")]
        [ValidateLength(0, RequestValidation.MaxTokenLength)]
        public string? Token { get; set; }

        [Parameter(ParameterSetName = TimeToLiveSet, HelpMessage = "How long the channel should live (default 7 days). Google may shorten it; the output's Expiration is the truth.")]
        public TimeSpan TimeToLive { get; set; } = DefaultTimeToLive;

        [Parameter(Mandatory = true, ParameterSetName = ExpiresAtSet, HelpMessage = "When the channel should expire. Google may shorten the lifetime; the output's Expiration is the truth.")]
        public DateTimeOffset ExpiresAt { get; set; }

        [Parameter(HelpMessage = "The connection to use instead of the session's: what Connect-CalendarWatch -PassThru (or -NoStore) returns.")]
        [ValidateNotNull]
        [ConnectionTransformation]
        public ConnectionInfo? Connection { get; set; }

        protected override CalendarConnection? ExplicitConnection => Connection?.Connection;

        /// <summary>Which collection the command watches.</summary>
        protected abstract WatchResource Resource { get; }

        /// <summary>The collection's name in messages, such as "events" or "access control list".</summary>
        protected abstract string ResourceDescription { get; }

        /// <summary>The event types to send (events.watch only).</summary>
        protected virtual IReadOnlyList<string> SelectedEventTypes => Array.Empty<string>();

        protected override string ProgressActivity => Resource switch
        {
            WatchResource.Acl => "Creating ACL watches",
            WatchResource.CalendarList => "Creating calendar-list watches",
            WatchResource.Settings => "Creating settings watches",
            _ => "Creating event watches",
        };

        /// <summary>
        /// One watch request for <paramref name="calendarId"/> (ignored by the calendar-list and settings watches) acting
        /// as <paramref name="subject"/>, validated before anything echoes it, and confirmed by ShouldProcess; null when
        /// refused (an error was written) or declined.
        /// </summary>
        protected WatchRequest? BuildWatch(string calendarId, string? subject)
        {
            var request = new WatchRequest
            {
                CalendarId = calendarId,
                Resource = Resource,
                ChannelId = string.IsNullOrEmpty(ChannelId) ? Guid.NewGuid().ToString() : ChannelId!,
                ChannelIdGenerated = string.IsNullOrEmpty(ChannelId),
                Address = Address,
                Token = string.IsNullOrEmpty(Token) ? null : Token,
                EventTypes = SelectedEventTypes,
                Subject = string.IsNullOrWhiteSpace(subject) ? null : subject!.Trim(),
            };
            if (ParameterSetName == ExpiresAtSet)
            {
                request.ExpiresAt = ExpiresAt;
            }
            else
            {
                request.TimeToLive = TimeToLive;
            }

            try
            {
                // Before anything echoes the request (-Verbose, ShouldProcess): a bad address may carry a password.
                RequestValidation.ValidateInput(request, DateTimeOffset.UtcNow);
            }
            catch (CalendarWatchException ex)
            {
                WriteError(ErrorRecords.From(ex, TargetOf(request)));
                return null;
            }

            var address = RequestValidation.Redact(Address);
            var actingAs = request.Subject is null ? string.Empty : $" as {request.Subject}";
            var what = ApiMethod.Watch(Resource).TakesCalendarId ? $"the {ResourceDescription} of calendar '{calendarId}'" : $"the {ResourceDescription}";
            var description = $"Watch {what}{actingAs} and send notifications to '{address}'.";
            var warning = $"Watch {what}{actingAs} and send notifications to '{address}'?";
            return ShouldProcess(description, warning, "Create a push-notification channel") ? request : null;
        }

        private RecordAhead? _recordAhead;

        // Up to 4 requests per send slot wait their turn already started (RecordAhead): the pipeline thread hands items
        // over in fewer, larger steps, and with a record the Pending rows of those waiting are written in one commit
        // when a slot frees, a fraction of a commit per channel.
        protected override int QueueLimit => 5 * ThrottleLimit;

        protected override void BeginProcessing()
        {
            base.BeginProcessing();
            _recordAhead = new RecordAhead(Store, ThrottleLimit, PostWarning);
        }

        protected override void OnStarting(WatchRequest request, CancellationToken cancellationToken) =>
            _recordAhead?.Reserve(request, cancellationToken);

        protected override Task<Channel> ExecuteAsync(CalendarApiClient client, WatchRequest request, CancellationToken cancellationToken)
        {
            var recordAhead = _recordAhead ?? throw new InvalidOperationException("BeginProcessing did not run.");
            return recordAhead.SendAsync(client, request, () => RecordedWatch.SendAsync(client, Store, request, RetryReporter, PostWarning, cancellationToken), cancellationToken);
        }

        protected override void WriteResult(WatchRequest request, Channel channel)
        {
            WriteVerbose($"Created channel '{channel.Id}' (resource id '{channel.ResourceId}') on calendar '{channel.CalendarId}', expiring {(channel.Expiration is DateTimeOffset e ? ChannelOutput.FormatInstant(e) : "(not given)")}.");
            if (Lifetime.Shortened(request, channel) is string shortened)
            {
                WriteWarning(shortened);
            }

            WriteObject(ChannelOutput.ToPSObject(channel));
        }

        protected override object? TargetOf(WatchRequest request) =>
            ApiMethod.Watch(request.Resource).TakesCalendarId ? request.CalendarId : (object?)request.Subject;

        protected override string DescribeRequest(WatchRequest request)
        {
            var lifetime = request.ExpiresAt is DateTimeOffset expiresAt
                ? "expiration " + ChannelOutput.FormatInstant(expiresAt)
                : "ttl " + ((long)Math.Ceiling((request.TimeToLive ?? DefaultTimeToLive).TotalSeconds)).ToString(CultureInfo.InvariantCulture) + " s";
            var types = request.EventTypes.Count > 0 ? ", eventTypes " + string.Join(",", request.EventTypes) : string.Empty;
            var token = string.IsNullOrEmpty(request.Token) ? string.Empty : ", channel token set";
            var subject = request.Subject is null ? string.Empty : $" as '{request.Subject}'";
            return $"POST {ApiMethod.Watch(request.Resource).PathTemplate}{subject}: calendar '{request.CalendarId}', channel id '{request.ChannelId}', address '{RequestValidation.Redact(request.Address)}', {lifetime}{types}{token}.";
        }

        protected override string DescribeUnwritten(WatchRequest request, Channel channel) => StopReport.CreatedNotWritten(channel);

        protected override string DescribeCancelledInFlight(WatchRequest request) =>
            StopReport.CancelledInFlight(request.ChannelId, request.CalendarId);

        protected override string DescribeFailedAfterStop(WatchRequest request, Exception exception) =>
            StopReport.FailedNotWritten(request.CalendarId, request.ChannelId, exception.Message);
    }

    /// <summary>
    /// New-CalendarEventWatch and New-CalendarAclWatch: one channel per calendar id from the pipeline, each acting as
    /// the item's -Subject (or the connection's default).
    /// </summary>
    public abstract class NewCalendarWatchCommandBase : WatchCommandBase
    {
        /// <summary>
        /// The calendar to watch. Aliases, chosen so that only values that are calendar ids bind: ResourceEmail (a
        /// Workspace resource calendar's id is its resource email: GAM print resources, PSGSuite Get-GSResource) and
        /// PrimaryEmail (a user's primary calendar id is their primary email: GAM print users, PSGSuite Get-GSUser).
        /// Deliberately no Id alias: channels, events, ACL rules and processes carry an Id that is not a calendar id.
        /// GAM's calendar-list CSV column calendarId binds by the parameter's own name. An array given directly
        /// (-CalendarId a,b,c) is one request per id, and its length is the progress total.
        /// </summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true,
            HelpMessage = "The calendar id to watch, such as primary, user@example.com or room-1@resource.calendar.google.com. Binds from strings, and from objects with CalendarId (GAM calendar lists), ResourceEmail or PrimaryEmail.")]
        [Alias("ResourceEmail", "PrimaryEmail")]
        [CalendarIdTransformation]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(CalendarIdCompleter))]
        public string[] CalendarId { get; set; } = Array.Empty<string>();

        /// <summary>
        /// The Workspace user to act as for this item (domain-wide delegation), from a CSV's Subject column or the
        /// parameter. Aliases: UserPrincipalName (Active Directory and Entra ID exports, where it is usually the
        /// user's Google address too) and Email. Not PrimaryEmail, which -CalendarId already takes (GAM print users:
        /// use -Subject { $_.primaryEmail }), and not User (often a login name, not an address). Empty = the
        /// connection's default subject.
        /// </summary>
        [Parameter(ValueFromPipelineByPropertyName = true,
            HelpMessage = "The Workspace user to act as for this item (domain-wide delegation), such as alice@example.com. Binds from a Subject, UserPrincipalName or Email property. Default: Connect-CalendarWatch -Subject, else the identity itself.")]
        [Alias("UserPrincipalName", "Email")]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(SubjectCompleter))]
        public string? Subject { get; set; }

        /// <summary>The number of ids when they were given as an array on the command line (not piped).</summary>
        protected override long? KnownItemCount => CalendarId.Length;

        protected override IEnumerable<WatchRequest?> BuildRequests()
        {
            foreach (var calendarId in CalendarId)
            {
                if (calendarId.StartsWith("@{", StringComparison.Ordinal))
                {
                    // PowerShell turned an object without a CalendarId property into text.
                    WriteError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidCalendarId",
                        $"The calendar id '{calendarId}' is an object turned into text: the input has no CalendarId, ResourceEmail or PrimaryEmail property. Rename the column to CalendarId, or pipe the ids as strings (ForEach-Object Id).", calendarId));
                    yield return null;
                    continue;
                }

                yield return BuildWatch(calendarId, Subject);
            }
        }
    }

    /// <summary>
    /// New-CalendarListWatch and New-CalendarSettingsWatch: Google watches the caller's own calendar list or settings,
    /// so one input item is one user: -Subject from the pipeline (strings, or objects with Subject, UserPrincipalName or
    /// Email), or none at all for the connection's own identity (or its default subject).
    /// </summary>
    public abstract class NewUserWatchCommandBase : WatchCommandBase
    {
        /// <summary>The user whose own calendar list or settings to watch (domain-wide delegation); empty = the connection's default.</summary>
        [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true,
            HelpMessage = "The Workspace user whose own calendar list or settings to watch (domain-wide delegation), such as alice@example.com. Binds from strings and from a Subject, UserPrincipalName or Email property. Default: Connect-CalendarWatch -Subject, else the identity itself.")]
        [Alias("UserPrincipalName", "Email")]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(SubjectCompleter))]
        public string? Subject { get; set; }

        protected override IEnumerable<WatchRequest?> BuildRequests()
        {
            yield return BuildWatch("me", Subject);
        }
    }
}
