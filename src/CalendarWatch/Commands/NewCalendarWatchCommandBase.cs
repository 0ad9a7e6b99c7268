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
    /// The parameters and steps New-CalendarEventWatch and New-CalendarAclWatch share. Holds no Google knowledge:
    /// it builds a <see cref="WatchRequest"/>, asks ShouldProcess and hands the request to the engine.
    /// </summary>
    public abstract class NewCalendarWatchCommandBase : CalendarApiCmdlet<WatchRequest, Channel>
    {
        protected const string TimeToLiveSet = "TimeToLive";
        protected const string ExpiresAtSet = "ExpiresAt";

        /// <summary>The lifetime asked for when neither -TimeToLive nor -ExpiresAt is given (Google's default too).</summary>
        public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromDays(7);

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
        public string[] CalendarId { get; set; } = Array.Empty<string>();

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
        public string? Subject { get; set; }

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

        protected override string ProgressActivity => Resource == WatchResource.Acl ? "Creating ACL watches" : "Creating event watches";

        /// <summary>The number of ids when they were given as an array on the command line (not piped).</summary>
        protected override long? KnownItemCount => CalendarId.Length;

        protected override IEnumerable<WatchRequest?> BuildRequests()
        {
            foreach (var calendarId in CalendarId)
            {
                yield return BuildRequest(calendarId);
            }
        }

        private WatchRequest? BuildRequest(string calendarId)
        {
            if (calendarId.StartsWith("@{", StringComparison.Ordinal))
            {
                // PowerShell turned an object without a CalendarId property into text.
                WriteError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidCalendarId",
                    $"The calendar id '{calendarId}' is an object turned into text: the input has no CalendarId, ResourceEmail or PrimaryEmail property. Rename the column to CalendarId, or pipe the ids as strings (ForEach-Object Id).", calendarId));
                return null;
            }

            var request = new WatchRequest
            {
                CalendarId = calendarId,
                Resource = Resource,
                ChannelId = string.IsNullOrEmpty(ChannelId) ? Guid.NewGuid().ToString() : ChannelId!,
                ChannelIdGenerated = string.IsNullOrEmpty(ChannelId),
                Address = Address,
                Token = string.IsNullOrEmpty(Token) ? null : Token,
                EventTypes = SelectedEventTypes,
                Subject = string.IsNullOrWhiteSpace(Subject) ? null : Subject!.Trim(),
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
                WriteError(ErrorRecords.From(ex, calendarId));
                return null;
            }

            var address = RequestValidation.Redact(Address);
            var actingAs = request.Subject is null ? string.Empty : $" as {request.Subject}";
            var description = $"Watch the {ResourceDescription} of calendar '{calendarId}'{actingAs} and send notifications to '{address}'.";
            var warning = $"Watch the {ResourceDescription} of calendar '{calendarId}'{actingAs} and send notifications to '{address}'?";
            return ShouldProcess(description, warning, "Create a push-notification channel") ? request : null;
        }

        protected override Task<Channel> ExecuteAsync(CalendarApiClient client, WatchRequest request, CancellationToken cancellationToken)
        {
            request.SentAt = DateTimeOffset.UtcNow;
            return client.WatchAsync(request, RetryReporter, cancellationToken);
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

        protected override object? TargetOf(WatchRequest request) => request.CalendarId;

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
}
