using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>One renewal: the old channel and the watch that replaces it.</summary>
    public sealed class RenewItem
    {
        internal RenewItem(StopChannelRequest old, WatchRequest replacement, bool oldRecorded)
        {
            Old = old;
            Replacement = replacement;
            OldRecorded = oldRecorded;
        }

        /// <summary>True when the old channel is in the record (it is then marked Replaced and linked to the new one).</summary>
        public bool OldRecorded { get; }

        public StopChannelRequest Old { get; }

        public WatchRequest Replacement { get; }
    }

    /// <summary>How a renewal ended: the new channel always exists; stopping the old one may have failed.</summary>
    public sealed class RenewOutcome
    {
        internal RenewOutcome(Channel channel, Exception? stopFailure)
        {
            Channel = channel;
            StopFailure = stopFailure;
        }

        public Channel Channel { get; }

        public Exception? StopFailure { get; }
    }

    /// <summary>
    /// Update-CalendarChannel: renews channels, since Google cannot renew one in place. For each channel piped in
    /// (the watch cmdlets' output, Import-Csv rows, the record) it creates a new channel with the same calendar,
    /// resource, address, token, event types and identity, and only once that exists stops the old one (with the new
    /// channel's resourceId, which names the same resource). Writes the new channel, whose Replaces names the old one.
    /// Every partial outcome leaves a working channel: the new one refused → an error, the old one untouched; the old
    /// one not stopped → a warning naming both. -ExpiringWithin renews only what is due.
    /// </summary>
    [Cmdlet(VerbsData.Update, "CalendarChannel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = TimeToLiveSet, HelpUri = HelpLinks.Base + "Update-CalendarChannel.md")]
    [OutputType(typeof(Channel))]
    public sealed class UpdateCalendarChannelCommand : ChannelCommandBase<RenewItem, RenewOutcome>
    {
        private const string TimeToLiveSet = "TimeToLive";
        private const string ExpiresAtSet = "ExpiresAt";

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The channel token to carry over (the output's Token). Default: the old channel's.")]
        [AllowNull]
        [AllowEmptyString]
        public string? Token { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true, HelpMessage = "The event types to carry over (events watches; the output's EventTypes, comma-separated in CSV). Empty = every type.")]
        [Alias("EventTypes")]
        [EventTypeListTransformation]
        [AllowNull]
        [AllowEmptyCollection]
        public string[]? EventType { get; set; }

        [Parameter(ParameterSetName = TimeToLiveSet, HelpMessage = "How long the new channel should live (default 7 days). Google may shorten it.")]
        public TimeSpan TimeToLive { get; set; } = Lifetime.DefaultTimeToLive;

        [Parameter(Mandatory = true, ParameterSetName = ExpiresAtSet, HelpMessage = "When the new channel should expire. Google may shorten the lifetime.")]
        public DateTimeOffset ExpiresAt { get; set; }

        [Parameter(HelpMessage = "Renew only channels that expire within this time from now (or have expired, or have no known expiration); skip the rest. Example: (New-TimeSpan -Days 2).")]
        public TimeSpan? ExpiringWithin { get; set; }

        protected override string ProgressActivity => "Renewing channels";

        protected override IEnumerable<RenewItem?> BuildRequests()
        {
            if (!TryReadChannel(out var old, out var resource, out var address, out var recorded))
            {
                yield return null;
                yield break;
            }

            var expiration = old.Expiration;
            if (ExpiringWithin is TimeSpan within && expiration is DateTimeOffset expires && expires > DateTimeOffset.UtcNow + within)
            {
                WriteVerbose($"Skipping {DescribeChannel()}: it expires {ChannelOutput.FormatInstant(expires)}, not within {within}.");
                yield return null;
                yield break;
            }

            if (resource is null || address is null)
            {
                WriteError(ErrorRecords.From(new CalendarWatchException("CalendarWatch.InvalidChannel", FailureKind.InvalidArgument,
                    $"Cannot renew {DescribeChannel()}: the input has no {(resource is null ? "Resource" : "Address")}, and the channel record does not know it. Pipe the watch cmdlets' output, Get-CalendarChannel's, or channels.csv rows (which carry CalendarId, Resource and Address).")
                { CalendarId = NullIfEmpty(CalendarId), ChannelId = Id }, Id));
                yield return null;
                yield break;
            }

            if (recorded != null && (recorded.State == ChannelState.Replaced || recorded.State == ChannelState.Stopped || recorded.State == ChannelState.Failed))
            {
                // Renewing it again would make a second live channel beside its successor.
                WriteWarning(recorded.State == ChannelState.Replaced
                    ? $"Skipping {DescribeChannel()}: the channel record says it was already replaced by {recorded.ReplacedBy}. Renew that one instead (Get-CalendarChannel lists the live channels)."
                    : $"Skipping {DescribeChannel()}: the channel record says it is {recorded.State}; there is nothing to renew. Make a new watch if it is still wanted.");
                yield return null;
                yield break;
            }

            if (old.CalendarId is null && ApiMethod.Watch(resource.Value).TakesCalendarId)
            {
                WriteError(ErrorRecords.From(new CalendarWatchException("CalendarWatch.InvalidChannel", FailureKind.InvalidArgument,
                    $"Cannot renew {DescribeChannel()}: the input has no CalendarId and the channel record does not know it, so the new channel would watch another calendar. Pipe rows that carry CalendarId.")
                { ChannelId = Id }, Id));
                yield return null;
                yield break;
            }

            var replacement = new WatchRequest
            {
                Resource = resource.Value,
                CalendarId = old.CalendarId ?? "me",
                ChannelId = Guid.NewGuid().ToString(),
                ChannelIdGenerated = true,
                Address = address,
                Token = NullIfEmpty(Token) ?? recorded?.Token,
                EventTypes = resource != WatchResource.Events ? Array.Empty<string>()
                    : EventType != null ? EventType.Distinct(StringComparer.Ordinal).ToArray()
                    : (recorded?.EventTypes ?? string.Empty).Split(new[] { ',' }, StringSplitOptions.RemoveEmptyEntries),
                Subject = old.Subject,
            };
            if (ParameterSetName == ExpiresAtSet)
            {
                replacement.ExpiresAt = ExpiresAt;
            }
            else
            {
                // The lifetime the old channel was asked for, unless -TimeToLive says otherwise.
                replacement.TimeToLive = MyInvocation.BoundParameters.ContainsKey(nameof(TimeToLive)) ? TimeToLive
                    : recorded?.TimeToLive ?? (recorded?.ExpiresAt is DateTimeOffset askedUntil && askedUntil > recorded.CreatedAt ? askedUntil - recorded.CreatedAt : TimeToLive);
            }

            if (!Validate(replacement))
            {
                yield return null;
                yield break;
            }

            yield return ShouldProcess(DescribeChannel(), "Renew the push-notification channel (create a new one, then stop this one)") ? new RenewItem(old, replacement, recorded != null) : null;
        }

        private bool Validate(WatchRequest replacement)
        {
            try
            {
                RequestValidation.ValidateInput(replacement, DateTimeOffset.UtcNow);
                return true;
            }
            catch (CalendarWatchException ex)
            {
                WriteError(ErrorRecords.From(ex, Id));
                return false;
            }
        }

        protected override async Task<RenewOutcome> ExecuteAsync(CalendarApiClient client, RenewItem item, CancellationToken cancellationToken)
        {
            // The new channel first (recorded before it is sent): if it is refused, the old one keeps working.
            Channel channel;
            try
            {
                channel = await RecordedWatch.RunAsync(client, Store, item.Replacement, RetryReporter, PostWarning, item.Old.ChannelId, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex)
            {
                throw new CalendarWatchException(ex.ErrorId, ex.Kind, $"Channel '{item.Old.ChannelId}' was not renewed and keeps working until it expires: {ex.Message}", ex)
                {
                    Phase = ex.Phase,
                    IsTransient = ex.IsTransient,
                    CalendarId = ex.CalendarId ?? item.Old.CalendarId,
                    ChannelId = ex.ChannelId,
                    Address = ex.Address,
                    Subject = ex.Subject,
                };
            }

            channel.Replaces = item.Old.ChannelId;
            // Google's resourceId names the watched resource, so the new channel's stops the old one too.
            var stop = item.Old;
            if (stop.ResourceId.Length == 0)
            {
                stop.ResourceId = channel.ResourceId;
            }

            CalendarWatchException? stopFailure = null;
            try
            {
                await client.StopChannelAsync(stop, RetryReporter, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex)
            {
                stopFailure = ex;
            }

            // Stopped, or already gone: the record links old and new. Not stopped: both stay live in the record.
            if (item.OldRecorded && (stopFailure is null || (stopFailure.Kind == FailureKind.ObjectNotFound && SameIdentity(item.Old.Account, client.Connection.Account))))
            {
                Record(item.Old.ChannelId, s => s.MarkReplaced(item.Old.ChannelId, channel.Id));
            }

            return new RenewOutcome(channel, stopFailure);
        }

        protected override void WriteResult(RenewItem request, RenewOutcome outcome)
        {
            var channel = outcome.Channel;
            if (outcome.StopFailure is CalendarWatchException { Kind: FailureKind.ObjectNotFound })
            {
                WriteVerbose($"Channel '{request.Old.ChannelId}' was already gone (expired or stopped); its replacement is '{channel.Id}'.");
            }
            else if (outcome.StopFailure != null)
            {
                WriteWarning($"Channel {channel.Id} replaces {request.Old.ChannelId} on calendar {channel.CalendarId}, but the old channel was not stopped, so both deliver until it expires: {outcome.StopFailure.Message} Stop it with Stop-CalendarChannel -Id {request.Old.ChannelId} -ResourceId {request.Old.ResourceId}.");
            }
            else
            {
                WriteVerbose($"Renewed channel '{request.Old.ChannelId}' as '{channel.Id}' (expiring {(channel.Expiration is DateTimeOffset e ? ChannelOutput.FormatInstant(e) : "(not given)")}); the old one is stopped.");
            }

            if (Lifetime.Shortened(request.Replacement, channel) is string shortened)
            {
                WriteWarning(shortened);
            }

            WriteObject(ChannelOutput.ToPSObject(channel));
        }

        protected override object? TargetOf(RenewItem request) => request.Old.ChannelId;

        protected override string DescribeRequest(RenewItem request) =>
            $"Renew channel '{request.Old.ChannelId}': POST {ApiMethod.Watch(request.Replacement.Resource).PathTemplate} as channel '{request.Replacement.ChannelId}', then POST {ApiMethod.ChannelsStop.PathTemplate} for the old one.";

        protected override string DescribeUnwritten(RenewItem request, RenewOutcome result) =>
            StopReport.CreatedNotWritten(result.Channel) + (result.StopFailure is null ? $" It replaces channel {request.Old.ChannelId}, which was stopped." : $" Channel {request.Old.ChannelId} was not stopped.");

        protected override string DescribeCancelledInFlight(RenewItem request) =>
            StopReport.CancelledInFlight(request.Replacement.ChannelId, request.Replacement.CalendarId) + $" Channel {request.Old.ChannelId} may or may not have been stopped.";

        protected override string DescribeFailedAfterStop(RenewItem request, Exception exception) =>
            StopReport.FailedNotWritten(request.Replacement.CalendarId, request.Replacement.ChannelId, exception.Message);
    }
}
