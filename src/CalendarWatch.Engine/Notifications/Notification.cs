using System;
using CalendarWatch.Engine.Store;

namespace CalendarWatch.Engine.Notifications
{
    /// <summary>
    /// One push notification as Google sent it (its X-Goog-* headers), read and matched against the channel record.
    /// Flat, so that Export-Csv writes it as it is. Never holds the channel token: only whether it matched.
    /// </summary>
    public sealed class Notification
    {
        /// <summary>X-Goog-Channel-ID: the channel's id, as given to the watch request.</summary>
        public string ChannelId { get; init; } = string.Empty;

        /// <summary>X-Goog-Message-Number: 1 for the sync message, then increasing (not always consecutive).</summary>
        public long MessageNumber { get; init; }

        /// <summary>X-Goog-Resource-State: sync, exists or not_exists.</summary>
        public string ResourceState { get; init; } = string.Empty;

        /// <summary>X-Goog-Resource-ID: Google's id of the watched resource (the same for every channel on it).</summary>
        public string ResourceId { get; init; } = string.Empty;

        /// <summary>X-Goog-Resource-URI: the API address of the watched resource.</summary>
        public string? ResourceUri { get; init; }

        /// <summary>The calendar read from the resource URI ("me" for calendar-list and settings watches).</summary>
        public string? CalendarId { get; init; }

        /// <summary>What the channel watches, read from the resource URI.</summary>
        public WatchResource? Resource { get; init; }

        /// <summary>X-Goog-Channel-Expiration: when the channel stops delivering (UTC), when Google sends it.</summary>
        public DateTimeOffset? ChannelExpiration { get; init; }

        /// <summary>
        /// True when X-Goog-Channel-Token equals the token the record (or -Token) expects, compared in constant time; null
        /// when nothing was expected (a channel the record does not know, without -Token). A wrong token is refused and
        /// never written as a notification.
        /// </summary>
        public bool? TokenMatched { get; init; }

        /// <summary>True when the channel record holds the channel.</summary>
        public bool IsKnownChannel { get; init; }

        /// <summary>The channel's state in the record when the notification came (null when unknown).</summary>
        public ChannelState? ChannelState { get; init; }

        /// <summary>The channel this one was made to replace (renewal), from the record.</summary>
        public string? Replaces { get; init; }

        /// <summary>The channel that replaces this one (renewal), from the record or from its own notifications.</summary>
        public string? ReplacedBy { get; init; }

        /// <summary>
        /// True for a change reported by a channel whose successor is known to exist: during a renewal's overlap both
        /// channels report every change, and the successor's copy is the one that counts.
        /// </summary>
        public bool IsDuplicate { get; init; }

        /// <summary>The user the channel was made as (domain-wide delegation), from the record.</summary>
        public string? Subject { get; init; }

        /// <summary>When the receiver got the request (UTC).</summary>
        public DateTimeOffset ReceivedAt { get; init; }

        public override string ToString() => $"{ResourceState} #{MessageNumber} on channel {ChannelId}";
    }
}
