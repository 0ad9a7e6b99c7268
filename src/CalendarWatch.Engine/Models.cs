using System;
using System.Collections.Generic;

namespace CalendarWatch.Engine
{
    /// <summary>The collections Google can watch.</summary>
    public enum WatchResource
    {
        Events,
        Acl,
        CalendarList,
        Settings,
    }

    /// <summary>One watch to create: what the cmdlet layer hands to <see cref="CalendarApiClient.WatchAsync"/>.</summary>
    public sealed class WatchRequest
    {
        /// <summary>The calendar to watch (ignored for CalendarList and Settings, which watch the caller's own).</summary>
        public string CalendarId { get; set; } = "primary";

        public WatchResource Resource { get; set; } = WatchResource.Events;

        /// <summary>The new channel's id: at most 64 characters, never used before in the Google Cloud project.</summary>
        public string ChannelId { get; set; } = string.Empty;

        /// <summary>
        /// True when <see cref="ChannelId"/> was made fresh for this request (a new GUID), so nobody can have used it
        /// before: channelIdNotUnique can then only mean that an earlier delivery of this same request created the
        /// channel (HttpClient itself resends a request once when a pooled connection drops before any answer), and
        /// it is reported as CalendarWatch.ChannelMayExist.
        /// </summary>
        public bool ChannelIdGenerated { get; set; }

        /// <summary>The webhook receiver, absolute https (http only against a loopback endpoint).</summary>
        public Uri? Address { get; set; }

        /// <summary>Echoed on every notification (X-Goog-Channel-Token); at most 256 characters; no secrets.</summary>
        public string? Token { get; set; }

        /// <summary>Requested lifetime, sent as params.ttl (seconds). Exclusive with <see cref="ExpiresAt"/>.</summary>
        public TimeSpan? TimeToLive { get; set; }

        /// <summary>Requested expiry, sent as expiration (Unix ms). Exclusive with <see cref="TimeToLive"/>.</summary>
        public DateTimeOffset? ExpiresAt { get; set; }

        /// <summary>events.watch only: the eventTypes query values (empty = every type).</summary>
        public IReadOnlyList<string> EventTypes { get; set; } = Array.Empty<string>();

        /// <summary>The user to act as (domain-wide delegation); null = the connection's default.</summary>
        public string? Subject { get; set; }

        /// <summary>When the request was sent (set by the sender): the start of the lifetime asked for.</summary>
        public DateTimeOffset? SentAt { get; set; }
    }

    /// <summary>Channel lifetimes: what was asked for against what Google granted.</summary>
    public static class Lifetime
    {
        /// <summary>The lifetime Google gives when neither a time to live nor an expiry is asked for.</summary>
        public static readonly TimeSpan DefaultTimeToLive = TimeSpan.FromDays(7);

        /// <summary>Differences below this are clocks, not a shortened lifetime.</summary>
        public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

        /// <summary>A warning when Google granted a shorter lifetime than <paramref name="request"/> asked for; null otherwise.</summary>
        public static string? Shortened(WatchRequest request, Channel channel)
        {
            if (request is null) throw new ArgumentNullException(nameof(request));
            if (channel is null) throw new ArgumentNullException(nameof(channel));
            if (!(channel.Expiration is DateTimeOffset granted) || !(request.SentAt is DateTimeOffset sent))
            {
                return null;
            }

            var asked = request.ExpiresAt ?? sent + (request.TimeToLive ?? DefaultTimeToLive);
            if (granted >= asked - Tolerance)
            {
                return null;
            }

            var days = (granted - sent).TotalDays;
            return string.Format(System.Globalization.CultureInfo.InvariantCulture,
                "Google shortened channel {0} on calendar {1}: asked to live until {2:yyyy-MM-ddTHH:mm:ssZ}, it expires {3:yyyy-MM-ddTHH:mm:ssZ} (about {4:0.#} days). Renew it before then.",
                channel.Id, channel.CalendarId, asked.UtcDateTime, granted.UtcDateTime, days);
        }
    }

    /// <summary>
    /// A channel to stop: the two values Google needs (both from the watch's response), and what explains a refusal
    /// (who made it, until when it lived).
    /// </summary>
    public sealed class StopChannelRequest
    {
        public string ChannelId { get; set; } = string.Empty;

        public string ResourceId { get; set; } = string.Empty;

        public string? Token { get; set; }

        public string? Subject { get; set; }

        /// <summary>Names the item in errors.</summary>
        public string? CalendarId { get; set; }

        /// <summary>The identity that made the channel, when known (named when Google does not know the channel).</summary>
        public string? Account { get; set; }

        /// <summary>When the channel expires, when known (named when Google does not know the channel).</summary>
        public DateTimeOffset? Expiration { get; set; }
    }

    /// <summary>
    /// A push-notification channel Google created. Flat and CSV-safe: Export-Csv then Import-Csv gives back every
    /// value that stopping or renewing it needs.
    /// </summary>
    public sealed class Channel
    {
        public string Kind { get; set; } = "api#channel";

        public string Id { get; set; } = string.Empty;

        public string ResourceId { get; set; } = string.Empty;

        public string? ResourceUri { get; set; }

        public string? Token { get; set; }

        /// <summary>When Google stops delivering, in UTC (the server may shorten the lifetime asked for).</summary>
        public DateTimeOffset? Expiration { get; set; }

        public string CalendarId { get; set; } = string.Empty;

        /// <summary>Events, Acl, CalendarList or Settings.</summary>
        public string Resource { get; set; } = string.Empty;

        public string Address { get; set; } = string.Empty;

        /// <summary>The event types watched, comma-separated; empty means every type.</summary>
        public string EventTypes { get; set; } = string.Empty;

        /// <summary>
        /// The identity that created the channel: the service account's email, or the user of user credentials; empty
        /// when unknown (an access token, the emulator). Google lets only the same identity and client stop it.
        /// </summary>
        public string? Account { get; set; }

        /// <summary>The user the channel was created as (domain-wide delegation), if any.</summary>
        public string? Subject { get; set; }

        /// <summary>
        /// The channel this one renewed (Update-CalendarChannel), if any: during the overlap both deliver, and a
        /// receiver uses this link to de-duplicate.
        /// </summary>
        public string? Replaces { get; set; }

        public override string ToString() => $"{Resource} channel {Id} on {CalendarId}";
    }
}
