using System;
using System.Collections.Generic;

namespace CalendarWatch.Emulator
{
    /// <summary>A snapshot of one notification channel.</summary>
    public sealed class EmulatedChannel
    {
        public string Id { get; internal set; } = "";
        public string ResourceId { get; internal set; } = "";
        public string ResourceUri { get; internal set; } = "";
        /// <summary>The resolved calendar id (for calendarList/settings: the caller's email).</summary>
        public string CalendarId { get; internal set; } = "";
        /// <summary>"events", "acl", "calendarList" or "settings".</summary>
        public string Resource { get; internal set; } = "";
        public string Address { get; internal set; } = "";
        public string? Token { get; internal set; }
        public DateTimeOffset Expiration { get; internal set; }
        /// <summary>"active", "stopped" or "expired" (judged on the emulator clock).</summary>
        public string State { get; internal set; } = "active";
        /// <summary>The caller principal that created the channel.</summary>
        public string Owner { get; internal set; } = "";
        /// <summary>The OAuth client the channel was created through.</summary>
        public string ClientId { get; internal set; } = "";
        /// <summary>Whether the creating credential was a service account.</summary>
        public bool CreatedByServiceAccount { get; internal set; }
        /// <summary>eventTypes asked for on events.watch; empty = every type.</summary>
        public string[] EventTypes { get; internal set; } = Array.Empty<string>();
        public DateTimeOffset CreatedAt { get; internal set; }

        internal EmulatedChannel Copy() { var c = (EmulatedChannel)MemberwiseClone(); c.EventTypes = (string[])EventTypes.Clone(); return c; }
    }

    /// <summary>A snapshot of one notification (one message to one channel, with all its attempts).</summary>
    public sealed class EmulatedDelivery
    {
        public string ChannelId { get; internal set; } = "";
        public string Address { get; internal set; } = "";
        public long MessageNumber { get; internal set; }
        /// <summary>"sync" or "exists".</summary>
        public string ResourceState { get; internal set; } = "";
        public IReadOnlyDictionary<string, string> Headers { get; internal set; } = new Dictionary<string, string>();
        /// <summary>Status code of the last attempt; null when no response came (connection failure) or none yet.</summary>
        public int? StatusCode { get; internal set; }
        /// <summary>"pending" (first attempt in flight), "delivered", "failed", "retrying" or "gaveUp".</summary>
        public string Outcome { get; internal set; } = "pending";
        public int Attempts { get; internal set; }
        public DateTimeOffset CreatedAt { get; internal set; }

        internal EmulatedDelivery Copy() => (EmulatedDelivery)MemberwiseClone();
    }

    /// <summary>Counters since start or the last reset.</summary>
    public sealed class EmulatorStats
    {
        /// <summary>API requests per method id ("calendar.events.watch", "calendar.channels.stop", ...).</summary>
        public IReadOnlyDictionary<string, long> RequestsByMethod { get; internal set; } = new Dictionary<string, long>();
        /// <summary>Token requests per OAuth client (service account client id, or the user's client_id).</summary>
        public IReadOnlyDictionary<string, long> TokenRequestsByClient { get; internal set; } = new Dictionary<string, long>();
        /// <summary>Token requests per client, then per subject ("" when none was asked for).</summary>
        public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> TokenRequestsByClientAndSubject { get; internal set; }
            = new Dictionary<string, IReadOnlyDictionary<string, long>>();
        /// <summary>Notifications sent (attempts included).</summary>
        public long DeliveryAttempts { get; internal set; }
    }
}
