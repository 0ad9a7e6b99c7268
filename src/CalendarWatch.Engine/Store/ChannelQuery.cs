using System;
using System.Collections.Generic;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// Which rows <see cref="ChannelStore.Query"/> streams. Every filter set must match (AND); an unset one matches all.
    /// Without <see cref="States"/> or <see cref="AllStates"/> the view is the live channels: Pending, MayExist, and
    /// Active not past its expiration.
    /// </summary>
    public sealed class ChannelQuery
    {
        /// <summary>The calendar id as recorded (case-insensitive, as Google's ids are).</summary>
        public string? CalendarId { get; set; }

        public WatchResource? Resource { get; set; }

        /// <summary>
        /// The states to list. <see cref="ChannelState.Active"/> means Active not past its expiration and
        /// <see cref="ChannelState.Expired"/> means Active past it. Null or empty: the live view (unless <see cref="AllStates"/>).
        /// </summary>
        public IReadOnlyCollection<ChannelState>? States { get; set; }

        /// <summary>Every state, ignoring the live default. <see cref="States"/> wins when both are set.</summary>
        public bool AllStates { get; set; }

        /// <summary>The user the channels were created as (case-insensitive).</summary>
        public string? Subject { get; set; }

        /// <summary>The identity that created the channels (case-insensitive).</summary>
        public string? Account { get; set; }

        /// <summary>Only channels whose expiration falls after now and at most this long after it: the ones to renew.</summary>
        public TimeSpan? ExpiringWithin { get; set; }

        /// <summary>The moment that decides expired and expiring; null: the store's clock.</summary>
        public DateTimeOffset? Now { get; set; }
    }

    /// <summary>The record's fields that tab completion offers values of (<see cref="ChannelStore.Suggest"/>).</summary>
    public enum ChannelField
    {
        CalendarId,
        Subject,
        ChannelId,
    }
}
