using System;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// Where a recorded channel stands. Every state but <see cref="Expired"/> is stored; Expired is derived when a row
    /// is read: an Active channel whose expiration has passed (nobody is told when Google lets a channel lapse, so no
    /// process could write it at the right moment).
    /// </summary>
    public enum ChannelState
    {
        /// <summary>Written before the watch request is sent. A process that dies here leaves it Pending: the channel may exist.</summary>
        Pending,

        /// <summary>Google answered with the channel: its resourceId and expiration are known.</summary>
        Active,

        /// <summary>The request may have been carried out but no channel came back (ChannelMayExist): no resourceId unless a notification gave it.</summary>
        MayExist,

        /// <summary>Google refused the request (or it was never sent): no channel exists.</summary>
        Failed,

        /// <summary>Stopped through channels.stop (or found already gone).</summary>
        Stopped,

        /// <summary>A successor channel (<see cref="ChannelRecord.ReplacedBy"/>) took over; this one is stopped or left to lapse.</summary>
        Replaced,

        /// <summary>Derived, never stored: Active, and its expiration has passed.</summary>
        Expired,
    }

    /// <summary>
    /// One row of the channel record: what was asked for, what Google answered and where the channel stands. Flat,
    /// so that it can be written to CSV as it is.
    /// </summary>
    public sealed class ChannelRecord
    {
        public string ChannelId { get; init; } = string.Empty;

        /// <summary>The state when the row was read (Active past its expiration reads as <see cref="ChannelState.Expired"/>).</summary>
        public ChannelState State { get; init; }

        /// <summary>The calendar id as sent to Google ("me" for CalendarList and Settings).</summary>
        public string CalendarId { get; init; } = string.Empty;

        public WatchResource Resource { get; init; }

        public string Address { get; init; } = string.Empty;

        public string? Token { get; init; }

        /// <summary>The event types watched, comma-separated; empty means every type.</summary>
        public string EventTypes { get; init; } = string.Empty;

        /// <summary>The identity that created the channel (service account or user), when known.</summary>
        public string? Account { get; init; }

        /// <summary>The user the channel was created as (domain-wide delegation), if any.</summary>
        public string? Subject { get; init; }

        /// <summary>The lifetime asked for as a time to live, if one was given.</summary>
        public TimeSpan? TimeToLive { get; init; }

        /// <summary>The expiry asked for, if one was given.</summary>
        public DateTimeOffset? ExpiresAt { get; init; }

        /// <summary>Google's id of the watched resource: what channels.stop needs besides the channel id.</summary>
        public string? ResourceId { get; init; }

        public string? ResourceUri { get; init; }

        /// <summary>When Google stops delivering (UTC), as Google granted it.</summary>
        public DateTimeOffset? Expiration { get; init; }

        public DateTimeOffset CreatedAt { get; init; }

        public DateTimeOffset UpdatedAt { get; init; }

        /// <summary>The last failure's message (Failed, MayExist), never a secret.</summary>
        public string? LastError { get; init; }

        /// <summary>The successor channel's id once this one was replaced.</summary>
        public string? ReplacedBy { get; init; }

        /// <summary>The predecessor channel's id when this one was made to replace it.</summary>
        public string? Replaces { get; init; }

        /// <summary>True for channels that may be delivering: Pending, MayExist, and Active not past its expiration.</summary>
        public bool IsLive => State == ChannelState.Pending || State == ChannelState.MayExist || State == ChannelState.Active;

        public override string ToString() => $"{State} {Resource} channel {ChannelId} on {CalendarId}";
    }
}
