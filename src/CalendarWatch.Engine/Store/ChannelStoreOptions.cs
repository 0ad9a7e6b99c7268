using System;

namespace CalendarWatch.Engine.Store
{
    /// <summary>What a committed write of the channel record survives.</summary>
    public enum ChannelStoreDurability
    {
        /// <summary>
        /// PRAGMA synchronous = NORMAL in WAL mode: a commit is in the WAL file (the OS's cache) before the call returns,
        /// so it survives the process being killed at any moment; an OS crash or power loss may lose the last commits
        /// (never the file's consistency). No fsync per commit.
        /// </summary>
        ProcessCrash,

        /// <summary>PRAGMA synchronous = FULL: the WAL is fsynced at every commit, which also survives an OS crash or power loss.</summary>
        SystemCrash,
    }

    /// <summary>Settings of a <see cref="ChannelStore"/>; the defaults suit the module.</summary>
    public sealed class ChannelStoreOptions
    {
        /// <summary>How long a write waits for another process's or thread's write to finish before failing (CalendarWatch.StoreBusy).</summary>
        public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(10);

        public ChannelStoreDurability Durability { get; set; } = ChannelStoreDurability.ProcessCrash;

        /// <summary>The clock for created/updated times and for what counts as expired.</summary>
        public TimeProvider Clock { get; set; } = TimeProvider.System;
    }
}
