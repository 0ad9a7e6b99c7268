using System;
using System.Threading;
using System.Threading.Tasks;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;

namespace CalendarWatch
{
    /// <summary>
    /// One watch with its record: written Pending before the request is sent (a refusal to record it means nothing is
    /// sent), then Active with Google's answer (written with the next write, see ChannelStore.MarkActiveLater), Failed when Google refused, MayExist when the request may have been
    /// carried out without an answer. A stop in flight leaves it Pending, which also means "may exist".
    /// </summary>
    internal static class RecordedWatch
    {
        public static async Task<Channel> RunAsync(CalendarApiClient client, ChannelStore? store, WatchRequest request, Action<RetryNotice> onRetry, Action<string> warn, string? replaces, CancellationToken cancellationToken)
        {
            if (store != null)
            {
                var connection = client.Connection;
                store.RecordPending(request, connection.Account, connection.SubjectFor(request.Subject), replaces);
            }

            return await SendAsync(client, store, request, onRetry, warn, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Sends a watch whose Pending row is written (<see cref="RunAsync"/>, <see cref="RecordAhead"/>), then records
        /// Google's answer. Without a store it only sends.
        /// </summary>
        public static async Task<Channel> SendAsync(CalendarApiClient client, ChannelStore? store, WatchRequest request, Action<RetryNotice> onRetry, Action<string> warn, CancellationToken cancellationToken)
        {
            request.SentAt = DateTimeOffset.UtcNow;
            Channel channel;
            try
            {
                channel = await client.WatchAsync(request, onRetry, cancellationToken).ConfigureAwait(false);
            }
            catch (CalendarWatchException ex) when (store != null)
            {
                Update(store, request.ChannelId, warn, s =>
                {
                    if (Failures.MayHaveTakenEffect(ex)) s.MarkMayExist(request.ChannelId, ex.Message);
                    else s.MarkFailed(request.ChannelId, ex.Message);
                });
                throw;
            }

            if (store != null)
            {
                // Written with the next Pending rows (one commit for several channels), at the latest 100 ms on, or
                // when the command ends; until then the record says Pending, which is read as "may exist".
                Update(store, request.ChannelId, warn, s => s.MarkActiveLater(request.ChannelId, channel, ex => warn(NotUpdated(store, request.ChannelId, ex))));
            }

            return channel;
        }

        /// <summary>A record update whose failure must not hide the item's outcome: it becomes a warning naming the channel.</summary>
        public static void Update(ChannelStore store, string channelId, Action<string> warn, Action<ChannelStore> update)
        {
            try
            {
                update(store);
            }
            catch (CalendarWatchException ex)
            {
                warn(NotUpdated(store, channelId, ex));
            }
            catch (ObjectDisposedException)
            {
                // Work still winding down after its command ended (Ctrl+C): the row stays as it was, which reads as "may exist".
                warn($"The channel record ({store.Path}) was closed before channel {channelId} was updated; it stays as recorded.");
            }
        }

        private static string NotUpdated(ChannelStore store, string channelId, CalendarWatchException ex) =>
            $"The channel record ({store.Path}) was not updated for channel {channelId}: {ex.Message}";
    }
}
