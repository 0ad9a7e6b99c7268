using System;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// One channel about to be requested, for <see cref="ChannelStore.RecordPending(System.Collections.Generic.IReadOnlyList{PendingWrite})"/>:
    /// the request, the identity that will create it (<see cref="Account"/>), the user it acts as (<see cref="Subject"/>;
    /// null: the request's) and the channel it is to replace, if any. Afterwards it holds the committed row or the error.
    /// </summary>
    public sealed class PendingWrite
    {
        public PendingWrite(WatchRequest request, string? account, string? subject, string? replaces = null)
        {
            Request = request ?? throw new ArgumentNullException(nameof(request));
            Account = account;
            Subject = subject;
            Replaces = replaces;
        }

        public WatchRequest Request { get; }

        public string? Account { get; }

        public string? Subject { get; }

        public string? Replaces { get; }

        /// <summary>The Pending row as committed; null when <see cref="Error"/> is set (nothing may be sent then).</summary>
        public ChannelRecord? Record { get; internal set; }

        /// <summary>Why the row was not written: invalid request (ArgumentException or CalendarWatch.Invalid*), id taken, record failure.</summary>
        public Exception? Error { get; internal set; }

        /// <summary>Set under the store's write lock once the row's transaction ended (or at once, when invalid).</summary>
        internal bool Done { get; set; }
    }
}
