using System;
using System.Globalization;
using System.Management.Automation;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>
    /// The parameters Stop-CalendarChannel and Update-CalendarChannel take from a channel: the watch cmdlets' output,
    /// the record's objects, or Import-Csv rows of channels.csv (0.1.0 and later), all by property name. Id and
    /// ResourceId are what Google needs; the rest explains a refusal (who made it, when it expires) or lets a channel
    /// whose resourceId was lost be found again (CalendarId, Resource, Address).
    /// </summary>
    public abstract class ChannelCommandBase<TRequest, TResult> : RecordedApiCmdlet<TRequest, TResult>
        where TRequest : class
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, HelpMessage = "The channel's id (the Id the watch returned; X-Goog-Channel-ID on its notifications).")]
        [Alias("ChannelId")]
        [ValidateNotNullOrEmpty]
        [ArgumentCompleter(typeof(ChannelIdCompleter))]
        public string Id { get; set; } = string.Empty;

        [Parameter(Position = 1, ValueFromPipelineByPropertyName = true, HelpMessage = "The ResourceId the watch returned (X-Goog-Resource-ID on its notifications). Without it, the channel's CalendarId, Resource and Address let CalendarWatch find it.")]
        [AllowNull]
        [AllowEmptyString]
        public string? ResourceId { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The watched calendar (names the item in messages; finds a lost ResourceId).")]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(CalendarIdCompleter))]
        public string? CalendarId { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "What the channel watches: Events, Acl, CalendarList or Settings.")]
        [AllowNull]
        [AllowEmptyString]
        public string? Resource { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The channel's webhook address.")]
        [AllowNull]
        [AllowEmptyString]
        public string? Address { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The user the channel was made as (domain-wide delegation); empty = the connection's default. Google lets only the same identity stop a user's channel.")]
        [Alias("UserPrincipalName", "Email")]
        [AllowNull]
        [AllowEmptyString]
        [ArgumentCompleter(typeof(SubjectCompleter))]
        public string? Subject { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The identity that made the channel (the output's Account); named when Google does not know the channel.")]
        [AllowNull]
        [AllowEmptyString]
        public string? Account { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "When the channel expires (the output's Expiration, or its ISO 8601 text from a CSV).")]
        [AllowNull]
        public object? Expiration { get; set; }

        [Parameter(HelpMessage = "The connection to use instead of the session's: what Connect-CalendarWatch -PassThru (or -NoStore) returns.")]
        [ValidateNotNull]
        [ConnectionTransformation]
        public ConnectionInfo? Connection { get; set; }

        protected override CalendarConnection? ExplicitConnection => Connection?.Connection;

        /// <summary>The bound Resource as the engine's enum; null when not given; an error record when not a resource.</summary>
        protected bool TryReadResource(out WatchResource? resource)
        {
            resource = null;
            if (string.IsNullOrWhiteSpace(Resource))
            {
                return true;
            }

            if (Enum.TryParse<WatchResource>(Resource!.Trim(), ignoreCase: true, out var parsed) && Enum.IsDefined(typeof(WatchResource), parsed))
            {
                resource = parsed;
                return true;
            }

            WriteError(ErrorRecords.InvalidArgument("CalendarWatch.InvalidResource",
                $"Channel '{Id}' names the resource '{Resource}'. Give Events, Acl, CalendarList or Settings (the Resource the watch cmdlets write).", Id));
            return false;
        }

        /// <summary>The bound Expiration as an instant: a DateTimeOffset, a DateTime, or ISO 8601 text; null when empty or unreadable.</summary>
        protected DateTimeOffset? ReadExpiration()
        {
            var value = Expiration is PSObject wrapped ? wrapped.BaseObject : Expiration;
            switch (value)
            {
                case DateTimeOffset instant:
                    return instant;
                case DateTime time:
                    return time.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)) : new DateTimeOffset(time);
                case string text when DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed):
                    return parsed;
                default:
                    return null;
            }
        }

        /// <summary>The bound channel as the request that stops it (ResourceId empty when not given).</summary>
        protected StopChannelRequest ReadStopRequest() => new StopChannelRequest
        {
            ChannelId = Id.Trim(),
            ResourceId = NullIfEmpty(ResourceId) ?? string.Empty,
            CalendarId = NullIfEmpty(CalendarId),
            Subject = NullIfEmpty(Subject),
            Account = NullIfEmpty(Account),
            Expiration = ReadExpiration(),
        };

        /// <summary>
        /// The bound channel as Stop and Update read it: its stop request, resource and address, completed from the
        /// record (see <see cref="Complete"/>). False after an error record for an unreadable Resource.
        /// </summary>
        protected bool TryReadChannel(out StopChannelRequest request, out WatchResource? resource, out Uri? address, out ChannelRecord? recorded)
        {
            request = ReadStopRequest();
            address = null;
            recorded = null;
            if (!TryReadResource(out resource))
            {
                return false;
            }

            address = ReadAddress();
            recorded = Complete(request, ref resource, ref address);
            return true;
        }

        /// <summary>
        /// The channel as bound, completed from the record where the input lacks a value (a bare -Id, or a CSV row
        /// without ResourceId): what the record knows about it, or null when it is not recorded (or -NoRecord).
        /// </summary>
        protected ChannelRecord? Complete(StopChannelRequest request, ref WatchResource? resource, ref Uri? address)
        {
            var recorded = Store?.Get(request.ChannelId);
            if (recorded != null)
            {
                if (request.ResourceId.Length == 0) request.ResourceId = recorded.ResourceId ?? string.Empty;
                request.CalendarId ??= recorded.CalendarId == "me" ? null : recorded.CalendarId;
                request.Subject ??= recorded.Subject;
                request.Account ??= recorded.Account;
                request.Expiration ??= recorded.Expiration;
                resource ??= recorded.Resource;
                address ??= Uri.TryCreate(recorded.Address, UriKind.Absolute, out var recordedAddress) ? recordedAddress : null;
            }

            if (request.ResourceId.Length == 0 && Store != null && resource is WatchResource known)
            {
                // Google's resourceId names the watched resource: another recorded channel on it knows it.
                request.ResourceId = Store.FindResourceId(request.CalendarId ?? "me", known, request.Account, request.Subject) ?? string.Empty;
            }

            return recorded;
        }

        /// <summary>The bound Address as an absolute URI, or null.</summary>
        protected Uri? ReadAddress() =>
            !string.IsNullOrWhiteSpace(Address) && Uri.TryCreate(Address!.Trim(), UriKind.Absolute, out var uri) ? uri : null;

        /// <summary>
        /// True when the identity that made a channel is the one this connection acts as: only then does Google's 404
        /// prove the channel is gone (another identity or client gets a 404 for a live channel too).
        /// </summary>
        protected static bool SameIdentity(string? madeBy, string? connectionAccount) =>
            string.Equals(madeBy ?? string.Empty, connectionAccount ?? string.Empty, StringComparison.OrdinalIgnoreCase);

        /// <summary>Empty text as null, trimmed otherwise.</summary>
        protected static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value!.Trim();

        /// <summary>"channel X on calendar Y" for messages and ShouldProcess.</summary>
        protected string DescribeChannel() =>
            string.IsNullOrWhiteSpace(CalendarId) ? $"channel '{Id}'" : $"channel '{Id}' on calendar '{CalendarId}'";
    }
}
