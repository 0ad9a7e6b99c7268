using System;
using System.Runtime.InteropServices;

namespace CalendarWatch.Engine.Store
{
    /// <summary>
    /// Points SQLitePCLRaw at the bundled native SQLite ("e_sqlite3", from SQLitePCLRaw.lib.e_sqlite3). Without the
    /// Microsoft.Data.Sqlite bundle nothing else does, and Microsoft.Data.Sqlite throws until a provider is set.
    /// Called by <see cref="ChannelStore.Open(string, ChannelStoreOptions?)"/> before its first connection.
    /// The provider P/Invokes "e_sqlite3": on PowerShell 7 the module's AssemblyLoadContext answers that name in
    /// LoadUnmanagedDll; on Windows PowerShell 5.1 the file must be loaded by full path before this runs.
    /// </summary>
    internal static class SqliteNative
    {
        private static readonly object Gate = new object();
        private static volatile bool _ready;

        public static void EnsureInitialized()
        {
            if (_ready) return;
            lock (Gate)
            {
                if (_ready) return;
                try
                {
                    SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_e_sqlite3());
                    _ = SQLitePCL.raw.sqlite3_libversion_number();
                }
                catch (Exception ex) when (ex is DllNotFoundException || ex is EntryPointNotFoundException || ex is BadImageFormatException)
                {
                    throw new CalendarWatchException("CalendarWatch.StoreUnavailable", FailureKind.ResourceUnavailable,
                        $"The native SQLite library (e_sqlite3) for {RuntimeInformation.OSDescription} {RuntimeInformation.ProcessArchitecture} could not be loaded: {ex.Message} " +
                        "The channel record needs it; reinstall the module, or report the platform if it is not one the module ships for.", ex);
                }

                _ready = true;
            }
        }

        /// <summary>The SQLite version in use, e.g. 3.49.1.</summary>
        public static string Version
        {
            get
            {
                EnsureInitialized();
                return SQLitePCL.raw.sqlite3_libversion().utf8_to_string();
            }
        }
    }
}
