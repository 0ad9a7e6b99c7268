using System;
using System.Runtime.InteropServices;

namespace CalendarWatch.Engine.Store
{
    /// <summary>Where the default path of the channel record came from.</summary>
    public enum ChannelStoreLocationSource
    {
        /// <summary>The CALENDARWATCH_STORE environment variable.</summary>
        EnvironmentVariable,

        /// <summary>Windows: %LOCALAPPDATA%\CalendarWatch\channels.db.</summary>
        LocalAppData,

        /// <summary>Elsewhere: $XDG_DATA_HOME/CalendarWatch/channels.db.</summary>
        XdgDataHome,

        /// <summary>Elsewhere without XDG_DATA_HOME: ~/.local/share/CalendarWatch/channels.db.</summary>
        HomeDirectory,
    }

    /// <summary>The channel record's file, and why that one: what <c>-Verbose</c> and the docs can show.</summary>
    public sealed class ChannelStoreLocation
    {
        /// <summary>Names a file path that overrides the per-user default.</summary>
        public const string EnvironmentVariable = "CALENDARWATCH_STORE";

        public const string FolderName = "CalendarWatch";

        public const string FileName = "channels.db";

        private ChannelStoreLocation(string path, ChannelStoreLocationSource source, string reason)
        {
            Path = path;
            Source = source;
            Reason = reason;
        }

        /// <summary>The full path of the database file.</summary>
        public string Path { get; }

        public ChannelStoreLocationSource Source { get; }

        /// <summary>One sentence that says why this path was chosen.</summary>
        public string Reason { get; }

        public override string ToString() => Path;

        /// <summary>
        /// The channel record of the current user: CALENDARWATCH_STORE when set (a file path; a relative one is taken
        /// from the process's current directory), else %LOCALAPPDATA%\CalendarWatch\channels.db on Windows, else
        /// $XDG_DATA_HOME/CalendarWatch/channels.db (when absolute, as the XDG spec asks) or ~/.local/share/CalendarWatch/channels.db.
        /// </summary>
        public static ChannelStoreLocation Resolve() =>
            Resolve(Environment.GetEnvironmentVariable,
                RuntimeInformation.IsOSPlatform(OSPlatform.Windows),
                Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify),
                Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify));

        /// <summary>The rule of <see cref="Resolve()"/> over given inputs.</summary>
        internal static ChannelStoreLocation Resolve(Func<string, string?> environment, bool isWindows, string? localAppData, string? userProfile)
        {
            var overridden = environment(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(overridden))
            {
                return new ChannelStoreLocation(System.IO.Path.GetFullPath(overridden!.Trim()), ChannelStoreLocationSource.EnvironmentVariable,
                    $"{EnvironmentVariable} is set.");
            }

            if (isWindows)
            {
                var local = environment("LOCALAPPDATA");
                if (string.IsNullOrEmpty(local)) local = localAppData;
                if (string.IsNullOrEmpty(local))
                {
                    throw NoDefault("neither LOCALAPPDATA nor the profile's local application data folder is known");
                }

                return new ChannelStoreLocation(Combine(local!), ChannelStoreLocationSource.LocalAppData,
                    $"{EnvironmentVariable} is not set: the per-user default under %LOCALAPPDATA%.");
            }

            var xdg = environment("XDG_DATA_HOME");
            if (!string.IsNullOrEmpty(xdg) && System.IO.Path.IsPathRooted(xdg))
            {
                return new ChannelStoreLocation(Combine(xdg!), ChannelStoreLocationSource.XdgDataHome,
                    $"{EnvironmentVariable} is not set: the per-user default under $XDG_DATA_HOME.");
            }

            var home = environment("HOME");
            if (string.IsNullOrEmpty(home)) home = userProfile;
            if (string.IsNullOrEmpty(home))
            {
                throw NoDefault("neither XDG_DATA_HOME nor HOME is set");
            }

            var why = string.IsNullOrEmpty(xdg)
                ? $"{EnvironmentVariable} and XDG_DATA_HOME are not set: the per-user default under ~/.local/share."
                : $"{EnvironmentVariable} is not set and XDG_DATA_HOME is not an absolute path: the per-user default under ~/.local/share.";
            return new ChannelStoreLocation(Combine(System.IO.Path.Combine(home!, ".local", "share")), ChannelStoreLocationSource.HomeDirectory, why);
        }

        private static string Combine(string root) => System.IO.Path.GetFullPath(System.IO.Path.Combine(root, FolderName, FileName));

        private static CalendarWatchException NoDefault(string why) =>
            new CalendarWatchException("CalendarWatch.StorePathUnknown", FailureKind.ObjectNotFound,
                $"The channel record has no default place: {why}. Set {EnvironmentVariable} to the path of the database file.");
    }
}
