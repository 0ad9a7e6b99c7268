using System;
using System.IO;
using System.Runtime.InteropServices;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Xunit;

namespace CalendarWatch.Tests.Store
{
    /// <summary>Opening the record: files and folders made, WAL, migrations from nothing, refusal of what it cannot read.</summary>
    public sealed class ChannelStoreSchemaTests
    {
        [Fact]
        public void AnEmptyFileIsMigratedToTheCurrentSchemaInWalMode()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            File.WriteAllBytes(path, Array.Empty<byte>());

            using (var store = ChannelStore.Open(path))
            {
                store.RecordPending(StoreData.Request("c1"), "sa@example.iam.gserviceaccount.com", null);
            }

            Assert.Equal((long)ChannelStore.SchemaVersion, StoreData.RawScalar(path, "PRAGMA user_version;"));
            Assert.Equal(0x43574348L, StoreData.RawScalar(path, "PRAGMA application_id;"));
            Assert.Equal("wal", StoreData.RawScalar(path, "PRAGMA journal_mode;"));
            Assert.Equal(1L, StoreData.RawScalar(path, "SELECT count(*) FROM channels;"));
        }

        [Fact]
        public void OpeningAgainKeepsTheRowsAndTheVersion()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            using (var first = ChannelStore.Open(path))
            {
                first.RecordPending(StoreData.Request("kept"), null, null);
            }

            using var second = ChannelStore.Open(path);
            Assert.Equal(ChannelState.Pending, second.Get("kept")!.State);
            Assert.Equal((long)ChannelStore.SchemaVersion, StoreData.RawScalar(path, "PRAGMA user_version;"));
        }

        [Fact]
        public void MissingFoldersAreCreatedAndTheFileIsTheUsersAlone()
        {
            using var folder = new StoreFolder();
            var path = Path.Combine(folder.Root, "a", "CalendarWatch", "channels.db");
            using var store = ChannelStore.Open(path);
            store.RecordPending(StoreData.Request("c1"), null, null);

            Assert.True(File.Exists(path));
            Assert.Equal(path, store.Path);
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path + "-wal"));
            }
        }

        [Fact]
        public void ANewerSchemaIsRefusedAndLeftAsItIs()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            using (ChannelStore.Open(path))
            {
            }

            StoreData.RawScalar(path, "PRAGMA user_version = 99;");
            var error = Assert.Throws<CalendarWatchException>(() => ChannelStore.Open(path));
            Assert.Equal("CalendarWatch.StoreSchemaTooNew", error.ErrorId);
            Assert.Equal(FailureKind.NotSupported, error.Kind);
            Assert.Contains("99", error.Message);
            Assert.Contains(ChannelStore.SchemaVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
            Assert.Equal(99L, StoreData.RawScalar(path, "PRAGMA user_version;"));
        }

        [Fact]
        public void AFileMarkedWithAVersionButNotAsCalendarWatchsIsRefused()
        {
            using var folder = new StoreFolder();
            var path = folder.File("versioned.db");
            StoreData.RawScalar(path, "PRAGMA user_version = 3;");

            var error = Assert.Throws<CalendarWatchException>(() => ChannelStore.Open(path));
            Assert.Equal("CalendarWatch.StoreNotRecognized", error.ErrorId);
            Assert.Equal(3L, StoreData.RawScalar(path, "PRAGMA user_version;"));
        }

        [Fact]
        public void OpenersOfANewFileAtOnceMigrateItOnce()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            var stores = new ChannelStore[8];
            System.Threading.Tasks.Parallel.For(0, stores.Length, i => stores[i] = ChannelStore.Open(path));
            try
            {
                for (var i = 0; i < stores.Length; i++) stores[i].RecordPending(StoreData.Request("c" + i), null, null);
                Assert.Equal(8L, StoreData.RawScalar(path, "SELECT count(*) FROM channels;"));
                Assert.Equal(1L, StoreData.RawScalar(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table';"));
            }
            finally
            {
                foreach (var store in stores) store?.Dispose();
            }
        }

        [Fact]
        public void AnotherApplicationsDatabaseIsRefusedAndLeftAsItIs()
        {
            using var folder = new StoreFolder();
            var path = folder.File("other.db");
            StoreData.RawScalar(path, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);");

            var error = Assert.Throws<CalendarWatchException>(() => ChannelStore.Open(path));
            Assert.Equal("CalendarWatch.StoreNotRecognized", error.ErrorId);
            Assert.Equal(0L, StoreData.RawScalar(path, "PRAGMA user_version;"));
            Assert.Equal("delete", StoreData.RawScalar(path, "PRAGMA journal_mode;"));
            Assert.Equal(0L, StoreData.RawScalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'channels';"));
        }

        [Fact]
        public void AFileThatIsNoDatabaseIsReportedAsUnreadable()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            File.WriteAllText(path, new string('x', 4096));

            var error = Assert.Throws<CalendarWatchException>(() => ChannelStore.Open(path));
            Assert.Equal("CalendarWatch.StoreUnreadable", error.ErrorId);
            Assert.Contains(path, error.Message);
        }

        [Fact]
        public void EveryConnectionWaitsForOtherWritersAndSyncsAsAsked()
        {
            using var folder = new StoreFolder();
            var path = folder.File();
            using var normal = ChannelStore.Open(path, new ChannelStoreOptions { BusyTimeout = TimeSpan.FromSeconds(7) });
            using var full = ChannelStore.Open(path, new ChannelStoreOptions { BusyTimeout = TimeSpan.FromSeconds(7), Durability = ChannelStoreDurability.SystemCrash });

            // Both stores share one pool (same file, same timeout): a reused connection must carry its own store's settings.
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(1L, Pragma(normal, "synchronous"));
                Assert.Equal(2L, Pragma(full, "synchronous"));
                Assert.Equal(7000L, Pragma(normal, "busy_timeout"));
                Assert.Equal("wal", Pragma(full, "journal_mode"));
            }
        }

        private static object? Pragma(ChannelStore store, string name) => store.Run(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA " + name + ";";
            return command.ExecuteScalar();
        });

        [Fact]
        public void TheBundledSqliteIsInUse()
        {
            // RETURNING (3.35) and the bundled library, not the OS's.
            Assert.True(Version.Parse(SqliteNative.Version) >= new Version(3, 35), SqliteNative.Version);
        }
    }
}
