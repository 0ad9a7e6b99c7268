using System;
using System.Collections.Generic;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Commands
{
    /// <summary>One channel to stop, and how to find its resourceId when it was lost.</summary>
    public sealed class StopItem
    {
        internal StopItem(StopChannelRequest request, WatchResource? resource, Uri? address, ChannelState? recordedState)
        {
            Request = request;
            Resource = resource;
            Address = address;
            RecordedState = recordedState;
        }

        /// <summary>The channel's state in the record before the stop; null when it is not recorded.</summary>
        public ChannelState? RecordedState { get; }

        /// <summary>Set when Google did not know a channel the record held as Pending or MayExist: it never existed, or is gone.</summary>
        public bool NeverExisted { get; internal set; }

        public StopChannelRequest Request { get; }

        public WatchResource? Resource { get; }

        public Uri? Address { get; }

        /// <summary>True when the resourceId was learned from a probe watch.</summary>
        public bool Probed { get; internal set; }
    }

    /// <summary>
    /// Stop-CalendarChannel: channels.stop for each channel piped in (the watch cmdlets' output, Import-Csv rows, the
    /// record) or named by -Id and -ResourceId. A channel without its resourceId (its watch answer was lost) is found by
    /// a short probe watch on the same calendar and resource, stopped at once, since Google's resourceId names the
    /// watched resource. Google's 404 becomes CalendarWatch.ChannelNotFound, saying what it can mean.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Stop, "CalendarChannel", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, HelpUri = HelpLinks.Base + "Stop-CalendarChannel.md")]
    [OutputType(typeof(Channel))]
    public sealed class StopCalendarChannelCommand : ChannelCommandBase<StopItem, StopItem>
    {
        [Parameter(HelpMessage = "Write each stopped channel (Id, ResourceId, CalendarId, Resource, Address, Account, Subject).")]
        public SwitchParameter PassThru { get; set; }

        protected override string ProgressActivity => "Stopping channels";

        protected override IEnumerable<StopItem?> BuildRequests()
        {
            if (!TryReadChannel(out var request, out var resource, out var address, out var recorded))
            {
                yield return null;
                yield break;
            }

            if (request.ResourceId.Length == 0 && (resource is null || address is null || (request.CalendarId is null && ApiMethod.Watch(resource.Value).TakesCalendarId)))
            {
                WriteError(ErrorRecords.From(new CalendarWatchException("CalendarWatch.InvalidResourceId", FailureKind.InvalidArgument,
                    $"Channel '{request.ChannelId}' has no ResourceId, and Google needs one to stop it. Give -ResourceId (X-Goog-Resource-ID on the channel's notifications), or the channel's CalendarId, Resource and Address so that CalendarWatch can find it with a short probe watch.")
                { CalendarId = request.CalendarId, ChannelId = request.ChannelId }, request.ChannelId));
                yield return null;
                yield break;
            }

            var item = new StopItem(request, resource, address, recorded?.State);
            yield return ShouldProcess(DescribeChannel(), "Stop the push-notification channel") ? item : null;
        }

        protected override async Task<StopItem> ExecuteAsync(CalendarApiClient client, StopItem item, CancellationToken cancellationToken)
        {
            var request = item.Request;
            if (request.ResourceId.Length == 0)
            {
                var calendarId = request.CalendarId ?? "me";
                PostVerbose($"Channel '{request.ChannelId}' has no ResourceId: probing the {item.Resource} of '{calendarId}' for it.");
                request.ResourceId = await client.ProbeResourceIdAsync(item.Resource!.Value, calendarId, request.Subject, item.Address!, RetryReporter, cancellationToken).ConfigureAwait(false);
                item.Probed = true;
            }

            try
            {
                await client.StopChannelAsync(request, RetryReporter, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex) when (ex.Kind == FailureKind.ObjectNotFound && (item.RecordedState == ChannelState.Pending || item.RecordedState == ChannelState.MayExist)
                && SameIdentity(request.Account, client.Connection.Account))
            {
                // Reconciling after a crash: Google does not know a channel whose answer never came. Nothing to stop.
                item.NeverExisted = true;
                Record(request.ChannelId, s =>
                {
                    if (item.RecordedState == ChannelState.Pending) s.MarkFailed(request.ChannelId, "Google did not know the channel when it was stopped: it was never created.");
                    else s.MarkStopped(request.ChannelId);
                });
                return item;
            }

            if (item.RecordedState != null)
            {
                Record(request.ChannelId, s => s.MarkStopped(request.ChannelId));
            }

            return item;
        }

        protected override void WriteResult(StopItem request, StopItem result)
        {
            WriteVerbose(result.NeverExisted
                ? $"Google does not know channel '{result.Request.ChannelId}', which the record held as {result.RecordedState}: it was never created (or is already gone). Nothing to stop; the record now says so."
                : $"Stopped channel '{result.Request.ChannelId}' (resource id '{result.Request.ResourceId}'{(result.Probed ? ", found by a probe watch" : string.Empty)}).");
            if (PassThru)
            {
                WriteObject(ChannelOutput.ToPSObject(new Channel
                {
                    Id = result.Request.ChannelId,
                    ResourceId = result.Request.ResourceId,
                    CalendarId = result.Request.CalendarId ?? string.Empty,
                    Resource = result.Resource?.ToString() ?? string.Empty,
                    Address = result.Address?.AbsoluteUri ?? string.Empty,
                    Expiration = result.Request.Expiration,
                    Account = result.Request.Account,
                    Subject = result.Request.Subject,
                }));
            }
        }

        protected override object? TargetOf(StopItem request) => request.Request.ChannelId;

        protected override string DescribeRequest(StopItem request) =>
            $"POST {ApiMethod.ChannelsStop.PathTemplate}: channel '{request.Request.ChannelId}', resource id '{(request.Request.ResourceId.Length == 0 ? "(to be found by a probe)" : request.Request.ResourceId)}'{(request.Request.Subject is null ? string.Empty : $" as '{request.Request.Subject}'")}.";

        protected override string DescribeUnwritten(StopItem request, StopItem result) =>
            $"Channel {result.Request.ChannelId} was stopped, but the command was stopped before it could say so.";

        protected override string DescribeCancelledInFlight(StopItem request) =>
            $"Stopping channel {request.Request.ChannelId} was cancelled in flight; Google may or may not have stopped it. Run Stop-CalendarChannel for it again (a 404 then means it is stopped).";

        protected override string DescribeFailedAfterStop(StopItem request, Exception exception) =>
            $"Stopping channel {request.Request.ChannelId} failed before the command was stopped: {exception.Message}";
    }
}
