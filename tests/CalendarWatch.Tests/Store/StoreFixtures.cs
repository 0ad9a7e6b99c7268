using System;
using System.Collections.Generic;
using System.IO;
using CalendarWatch.Engine;
using CalendarWatch.Engine.Store;
using Microsoft.Data.Sqlite;

namespace CalendarWatch.Tests.Store
{
    /// <summary>A folder of its own per test, removed with every pooled connection to files in it.</summary>
    internal sealed class StoreFolder : IDisposable
    {
        public StoreFolder()
        {
            Root = Path.Combine(Path.GetTempPath(), "cw-store-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Root);
        }

        public string Root { get; }

        public string File(string name = "channels.db") => Path.Combine(Root, name);

        public void Dispose()
        {
            SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A record of its own per test: a folder, a clock the test moves, and the store opened on both.</summary>
    internal sealed class TempStore : IDisposable
    {
        public TempStore()
        {
            Store = ChannelStore.Open(Folder.File(), new ChannelStoreOptions { Clock = Clock });
        }

        public StoreFolder Folder { get; } = new StoreFolder();

        public ManualClock Clock { get; } = new ManualClock(StoreData.Start);

        public ChannelStore Store { get; }

        public void Dispose()
        {
            Store.Dispose();
            Folder.Dispose();
        }
    }

    /// <summary>A clock tests move by hand: no waiting for time to pass.</summary>
    internal sealed class ManualClock : TimeProvider
    {
        public ManualClock(DateTimeOffset now) => Now = now;

        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }

    internal static class StoreData
    {
        public static readonly DateTimeOffset Start = new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

        public static WatchRequest Request(string channelId, string calendarId = "room-1@resource.calendar.google.com", WatchResource resource = WatchResource.Events, string? subject = null) =>
            new WatchRequest
            {
                ChannelId = channelId,
                CalendarId = calendarId,
                Resource = resource,
                Address = new Uri("https://hooks.example.com/calendar"),
                Token = "token-" + channelId,
                Subject = subject,
            };

        public static Channel Granted(string channelId, DateTimeOffset expiration, string resourceId = "resource-1") =>
            new Channel { Id = channelId, ResourceId = resourceId, ResourceUri = "https://www.googleapis.com/calendar/v3/calendars/x/events?alt=json", Expiration = expiration };

        /// <summary>Runs SQL against the file directly (what sqlite3 would see).</summary>
        public static List<object?[]> Sql(string path, string sql)
        {
            using var store = ChannelStore.Open(path);
            return store.Run(connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                using var reader = command.ExecuteReader();
                var rows = new List<object?[]>();
                while (reader.Read())
                {
                    var row = new object?[reader.FieldCount];
                    for (var i = 0; i < row.Length; i++) row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                    rows.Add(row);
                }

                return rows;
            });
        }

        /// <summary>Runs SQL on a raw connection, without opening (so without migrating) a store.</summary>
        public static object? RawScalar(string path, string sql)
        {
            SqliteNative.EnsureInitialized();
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            return command.ExecuteScalar();
        }
    }
}
